"""The simulated Jira site's own data."""
from __future__ import annotations

from typing import Any

from django.db import models

from issuesync.prepared import Prepared, PreparedSave
from jira.adf import adf_to_text


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
        # Read on every change and every partner's request: the statement is built once (issuesync.prepared).
        obj = _SITE_CONFIGURATION.first()
        if obj is None:
            obj, _ = cls.objects.get_or_create(pk=1)
        return obj

    @property
    def is_enabled(self) -> bool:
        return self.issue_sync_installed and self.issue_sync_active


_SITE_CONFIGURATION = Prepared(lambda: SiteConfiguration.objects.filter(pk=1))


# --- People -----------------------------------------------------------------------------------


class Profile(models.Model):
    """What Jira knows of a person beyond Django's User: the opaque accountId and a display name.

    The email and the active flag are the User's own (`email`, `is_active`).
    """

    user = models.OneToOneField("auth.User", on_delete=models.CASCADE, related_name="jira_profile")
    account_id = models.CharField(max_length=64, unique=True)
    display_name = models.CharField(max_length=150, blank=True)

    def __str__(self) -> str:
        return self.display_name or self.account_id


class ApiToken(models.Model):
    """An API token for HTTP Basic `email:token`; only its SHA-256 digest is stored.

    Tokens are long random strings, so a fast digest is safe (no dictionary to guess from) and
    keeps every API call cheap; the first characters stay visible so their owner can tell them apart.
    """

    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="jira_api_tokens")
    label = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.label} ({self.prefix}…)"


# --- Workflow ---------------------------------------------------------------------------------


class StatusCategory(models.TextChoices):
    """Jira's three status categories; the key is what the REST API shows."""

    TO_DO = "new", "To Do"
    IN_PROGRESS = "indeterminate", "In Progress"
    DONE = "done", "Done"


STATUS_CATEGORY_IDS = {StatusCategory.TO_DO: 2, StatusCategory.IN_PROGRESS: 4, StatusCategory.DONE: 3}
STATUS_CATEGORY_COLOURS = {StatusCategory.TO_DO: "blue-gray", StatusCategory.IN_PROGRESS: "yellow",
                           StatusCategory.DONE: "green"}


class Status(models.Model):
    name = models.CharField(max_length=60, unique=True)
    category = models.CharField(max_length=20, choices=StatusCategory.choices)

    class Meta:
        ordering = ["pk"]
        verbose_name_plural = "statuses"

    def __str__(self) -> str:
        return self.name


class Transition(models.Model):
    """A named step of a project's workflow; `from_status` empty means "from any status"."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="transitions")
    name = models.CharField(max_length=60)
    from_status = models.ForeignKey(Status, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    to_status = models.ForeignKey(Status, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.project.key}: {self.name}"


class Workflow(models.Model):
    """Where a project's new issues start; the steps are its Transitions."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="workflow")
    initial_status = models.ForeignKey(Status, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"{self.project.key} workflow"


class Priority(models.Model):
    """Highest .. Lowest; `position` orders them (1 is the highest)."""

    name = models.CharField(max_length=30, unique=True)
    position = models.PositiveSmallIntegerField(default=3)
    colour = models.CharField(max_length=7, default="#FFAB00")

    class Meta:
        ordering = ["position"]
        verbose_name_plural = "priorities"

    def __str__(self) -> str:
        return self.name


# --- Issues -----------------------------------------------------------------------------------


class IssueCounter(models.Model):
    """The last issue number used in a project: keys are never reused, even after a delete."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True, related_name="issue_counter")
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.project_id}: {self.last_number}"


class Issue(PreparedSave, models.Model):
    """A Jira issue. Its REST id is the primary key as a string of digits; its key is `PROJ-N`."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="issues")
    number = models.PositiveIntegerField()
    key = models.CharField(max_length=32, unique=True)
    issue_type = models.ForeignKey(IssueType, on_delete=models.PROTECT, related_name="issues")
    summary = models.CharField(max_length=255)
    description = models.JSONField(null=True, blank=True)  # Atlassian Document Format
    # The description's text, kept with it (`save`, and by whoever bulk-creates): what `text ~` and
    # `description ~` search, with a trigram index on PostgreSQL (migration 0005), not the JSON's keys.
    description_text = models.TextField(default="", db_default="", blank=True, editable=False)
    status = models.ForeignKey(Status, on_delete=models.PROTECT, related_name="issues")
    priority = models.ForeignKey(Priority, on_delete=models.PROTECT, null=True, blank=True, related_name="issues")
    # Jira labels hold no spaces: stored as " a b c " so `labels = x` is a plain substring test on any database.
    labels_text = models.TextField(default="", blank=True)
    assignee = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reporter = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    due_date = models.DateField(null=True, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)  # {"customfield_10001": value}
    created = models.DateTimeField(db_index=True)
    updated = models.DateTimeField(db_index=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created", "-pk"]
        constraints = [models.UniqueConstraint(fields=["project", "number"], name="jira_issue_project_number")]
        indexes = [
            models.Index(fields=["project", "status"], name="jira_issue_project_status"),
            models.Index(fields=["project", "-created"], name="jira_issue_project_created"),
            models.Index(fields=["status", "-created"], name="jira_issue_status_created"),
            models.Index(fields=["assignee"], name="jira_issue_assignee"),
            models.Index(fields=["reporter"], name="jira_issue_reporter"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.summary}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.description_text = adf_to_text(self.description)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "description" in update_fields:
            kwargs["update_fields"] = {*update_fields, "description_text"}
        super().save(*args, **kwargs)

    @property
    def labels(self) -> list[str]:
        return self.labels_text.split()


class Comment(models.Model):
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, related_name="+")
    body = models.JSONField()  # Atlassian Document Format
    created = models.DateTimeField()
    updated = models.DateTimeField()

    class Meta:
        ordering = ["created", "pk"]
        indexes = [models.Index(fields=["issue", "created"], name="jira_comment_issue_created")]

    def __str__(self) -> str:
        return f"Comment {self.pk} on {self.issue_id}"


class Changelog(PreparedSave, models.Model):
    """One change to an issue: who, when, from where, and its items as Jira shows them.

    `items` is a list of `{"field", "fieldtype", "fieldId", "from", "fromString", "to", "toString"}`.
    """

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="changelog")
    author = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField()
    origin_kind = models.CharField(max_length=20)
    origin_ref = models.CharField(max_length=200, blank=True)
    items = models.JSONField(default=list)

    class Meta:
        ordering = ["created", "pk"]
        indexes = [models.Index(fields=["issue", "created"], name="jira_changelog_issue_created")]

    def __str__(self) -> str:
        return f"Change {self.pk} of {self.issue_id}"


class RemoteLink(models.Model):
    """A link to something outside the site (issue sync: the partner issue), upserted by `globalId`."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="remote_links")
    global_id = models.CharField(max_length=255, blank=True)
    relationship = models.CharField(max_length=100, blank=True)
    url = models.URLField(max_length=2000)
    title = models.CharField(max_length=255)
    summary = models.TextField(blank=True)
    application = models.JSONField(default=dict, blank=True)
    status = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["issue", "global_id"], condition=~models.Q(global_id=""),
                                               name="jira_remotelink_issue_global_id")]

    def __str__(self) -> str:
        return self.title
