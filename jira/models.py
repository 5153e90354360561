"""The simulated Jira site's own data."""
from __future__ import annotations

from django.db import models


class Project(models.Model):
    class ProjectType(models.TextChoices):
        SOFTWARE = "software", "Software"
        BUSINESS = "business", "Business"
        SERVICE_DESK = "service_desk", "Service management"

    key = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=120)
    project_type = models.CharField(max_length=20, choices=ProjectType.choices, default=ProjectType.SOFTWARE)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key} ({self.name})"


class IssueType(models.Model):
    name = models.CharField(max_length=60, unique=True)
    subtask = models.BooleanField(default=False)
    hierarchy_level = models.IntegerField(default=0)

    class Meta:
        ordering = ["hierarchy_level", "name"]

    def __str__(self) -> str:
        return self.name


class CustomField(models.Model):
    """A site's own custom field (`customfield_100NN` in Jira's REST API)."""

    class FieldType(models.TextChoices):
        TEXT = "text", "Text"
        SELECT = "select", "Select list"
        NUMBER = "number", "Number"
        DATE = "date", "Date"
        USER = "user", "User picker"
        LABELS = "labels", "Labels"

    name = models.CharField(max_length=80, unique=True)
    field_type = models.CharField(max_length=10, choices=FieldType.choices)
    options = models.JSONField(default=list, blank=True)  # for select lists

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def field_id(self) -> str:
        return f"customfield_{10000 + self.pk}"


class SiteConfiguration(models.Model):
    """One row: whether the Issue Sync app is installed and active on this site."""

    issue_sync_installed = models.BooleanField(default=True)
    issue_sync_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = "Issue Sync app"
        verbose_name_plural = "Issue Sync app"

    def __str__(self) -> str:
        return "Issue Sync " + ("active" if self.is_enabled else "inactive")

    @classmethod
    def load(cls) -> SiteConfiguration:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj

    @property
    def is_enabled(self) -> bool:
        return self.issue_sync_installed and self.issue_sync_active
