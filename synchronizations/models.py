"""Synchronizations between this site and a partner site, and each side's scope."""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, TypeVar, overload

from django.conf import settings
from django.db import models
from django.urls import reverse

from jira.models import IssueType, Project
from synchronizations.fields import site_fields
from synchronizations.states import InvitationStatus

_Row = TypeVar("_Row", bound=models.Model)


class Scope(models.Model):
    """Which of this site's projects and issue types the partner sees."""

    class Mode(models.TextChoices):
        SHOW_ALL = "show_all", "Show all"
        HIDE_ONLY_SELECTED = "hide_only_selected", "Hide only selected"
        SHOW_ONLY_SELECTED = "show_only_selected", "Show only selected"

    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.SHOW_ALL)
    projects = models.ManyToManyField(Project, blank=True, related_name="+")
    issue_types = models.ManyToManyField(IssueType, blank=True, related_name="+")

    def __str__(self) -> str:
        return self.get_mode_display()

    def visible_projects(self) -> models.QuerySet[Project]:
        return scope_visible(self.mode, Project.objects.all(), self.projects.values("pk"))

    def visible_issue_types(self) -> models.QuerySet[IssueType]:
        return scope_visible(self.mode, IssueType.objects.all(), self.issue_types.values("pk"))

    def visible(self) -> dict[str, list[dict[str, str]]]:
        """The wire form: what the partner may see (three queries; kept until the scope is set again)."""
        memo: dict[str, list[dict[str, str]]] | None = getattr(self, "_visible_memo", None)
        if memo is None:
            memo = self._visible_memo = {
                "projects": [{"key": p.key, "name": p.name} for p in self.visible_projects()],
                "issue_types": [{"name": t.name} for t in self.visible_issue_types()],
                "mappable_fields": site_fields(),
            }
        return memo

    def visible_forget(self) -> None:
        self.__dict__.pop("_visible_memo", None)


@overload
def scope_visible(mode: str, everything: models.QuerySet[_Row], chosen: Any) -> models.QuerySet[_Row]: ...
@overload
def scope_visible(mode: str, everything: Iterable[_Row], chosen: set[int]) -> list[_Row]: ...


def scope_visible(mode: str, everything: Any, chosen: Any) -> Any:
    """The scope rule, the one place it is written: what a mode shows of all items, given the chosen
    ids. On a queryset (chosen: ids or a subquery of them) it stays one lazy query; on rows, a list."""
    lazy = isinstance(everything, models.QuerySet)
    if mode == Scope.Mode.SHOW_ONLY_SELECTED:
        return everything.filter(pk__in=chosen) if lazy else [x for x in everything if x.pk in chosen]
    if mode == Scope.Mode.HIDE_ONLY_SELECTED:
        return everything.exclude(pk__in=chosen) if lazy else [x for x in everything if x.pk not in chosen]
    return everything if lazy else list(everything)


class SynchronizationType(models.TextChoices):
    CLOUD_TO_CLOUD = "cloud_to_cloud", "Cloud to Cloud"
    CLOUD_TO_DATA_CENTER = "cloud_to_dc", "Cloud to Data Center"


class Role(models.TextChoices):
    INVITER = "inviter", "Inviter"
    INVITEE = "invitee", "Invitee"


class VisibleSynchronizationManager(models.Manager["Synchronization"]):
    def get_queryset(self) -> models.QuerySet[Synchronization]:
        return super().get_queryset().filter(removed_at__isnull=True)


class Synchronization(models.Model):
    # The same id on both sites: it names the connection on the wire.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    sync_type = models.CharField(
        max_length=20, choices=SynchronizationType.choices, default=SynchronizationType.CLOUD_TO_CLOUD
    )
    partner_address = models.CharField(max_length=200)
    role = models.CharField(max_length=10, choices=Role.choices)
    status = models.CharField(max_length=24, choices=InvitationStatus.choices, db_index=True)
    scope = models.OneToOneField(Scope, on_delete=models.PROTECT, related_name="synchronization")
    # What the partner's scope lets this side see, as the partner last announced it.
    partner_visible = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    # "Remove record" hides the row from this site's list but keeps it, so a
    # late or repeated partner message is still recognised and absorbed.
    removed_at = models.DateTimeField(null=True, blank=True)

    objects = models.Manager()
    listed = VisibleSynchronizationManager()

    class Meta:
        ordering = ["-updated_at"]
        # The list's order (-updated_at, pk) with and without its status filter, listed rows only:
        # a page at any offset is read in index order, with no sort.
        indexes = [
            models.Index(fields=["-updated_at", "id"], name="sync_list",
                         condition=models.Q(removed_at__isnull=True)),
            models.Index(fields=["status", "-updated_at", "id"], name="sync_list_status",
                         condition=models.Q(removed_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.name} with {self.partner_address} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("synchronizations:detail", args=[self.pk])

    @property
    def status_enum(self) -> InvitationStatus:
        return InvitationStatus(self.status)
