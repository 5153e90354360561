"""Reads the browser pages need beyond `jira.selectors`: the filtered issue list, names of people,
an issue's custom field values and history as a person reads them.

Each read costs a fixed number of queries, whatever the number of issues.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Count, Q, QuerySet

from jira.fields import SYSTEM_FIELD_NAMES
from jira.models import Changelog, CustomField, Issue, IssueType, Profile, Project, Status

UNASSIGNED = "unassigned"


@dataclass(frozen=True)
class IssueFilter:
    """What the issue list's filter bar asks for; empty means "any"."""

    project: Project | None = None
    status: Status | None = None
    issue_type: IssueType | None = None
    assignee: User | None = None
    unassigned: bool = False
    text: str = ""

    @property
    def active(self) -> bool:
        return bool(self.status or self.issue_type or self.assignee or self.unassigned or self.text)


def issue_filter_from(params: Any, project: Project | None) -> IssueFilter:
    """Read the filter from a query string; an unknown or malformed value is ignored, never an error."""

    def pk(name: str) -> int | None:
        value = str(params.get(name) or "")
        return int(value) if value.isdigit() and len(value) < 12 else None

    status_pk, type_pk = pk("status"), pk("type")
    assignee_value = str(params.get("assignee") or "")
    assignee = None
    if assignee_value and assignee_value != UNASSIGNED:
        profile = Profile.objects.select_related("user").filter(account_id=assignee_value[:64]).first()
        assignee = profile.user if profile else None
    return IssueFilter(
        project=project,
        status=Status.objects.filter(pk=status_pk).first() if status_pk else None,
        issue_type=IssueType.objects.filter(pk=type_pk).first() if type_pk else None,
        assignee=assignee, unassigned=assignee_value == UNASSIGNED,
        text=str(params.get("q") or "").strip()[:200],
    )


# Only what a row of the list shows, as plain values: with 50 rows a page, building nine model
# instances per row costs more than the query itself.
ROW_COLUMNS = ("pk", "key", "summary", "updated", "issue_type__name", "status__name", "status__category",
               "priority__name", "priority__colour", "assignee__username", "assignee__first_name",
               "assignee__last_name", "assignee__jira_profile__display_name")


def issue_list(flt: IssueFilter) -> QuerySet[Issue, dict[str, Any]]:
    """The rows of the issues the filter asks for, newest first; each filter is an indexed column."""
    qs = Issue.objects.all()
    if flt.project is not None:
        qs = qs.filter(project=flt.project)
    if flt.status is not None:
        qs = qs.filter(status=flt.status)
    if flt.issue_type is not None:
        qs = qs.filter(issue_type=flt.issue_type)
    if flt.assignee is not None:
        qs = qs.filter(assignee=flt.assignee)
    elif flt.unassigned:
        qs = qs.filter(assignee__isnull=True)
    if flt.text:
        qs = qs.filter(Q(summary__icontains=flt.text) | Q(key=flt.text.upper()))
    return qs.order_by("-created", "-pk").values(*ROW_COLUMNS)


def row_assignee(row: dict[str, Any]) -> str:
    """The assignee's display name in a row of `issue_list` ("" when unassigned)."""
    if not row["assignee__username"]:
        return ""
    full = f"{row['assignee__first_name']} {row['assignee__last_name']}".strip()
    return row["assignee__jira_profile__display_name"] or full or row["assignee__username"]


def projects_with_counts() -> QuerySet[Project]:
    return Project.objects.annotate(issue_count=Count("issues")).order_by("key")


def people() -> QuerySet[User]:
    """Who can be picked as an assignee: active people, by name."""
    return (User.objects.select_related("jira_profile").filter(is_active=True)
            .order_by("first_name", "last_name", "username"))


def person_name(user: User | None) -> str:
    """A person's display name without a query (the profile was selected with the user)."""
    if user is None:
        return ""
    try:
        profile = user.jira_profile
    except Profile.DoesNotExist:
        profile = None
    return (profile.display_name if profile else "") or user.get_full_name() or user.username


def account_id(user: User | None) -> str:
    if user is None:
        return ""
    try:
        return user.jira_profile.account_id
    except Profile.DoesNotExist:
        return ""


@dataclass(frozen=True)
class CustomValue:
    field: CustomField
    value: Any  # as stored
    text: str  # as a person reads it


def custom_values(issue: Issue, fields: list[CustomField]) -> list[CustomValue]:
    """Every custom field of the site with the issue's value (user pickers by name, one query for all)."""
    accounts = [issue.custom_fields.get(cf.field_id) for cf in fields if cf.field_type == CustomField.FieldType.USER]
    names = {p.account_id: p.display_name or p.user.username for p in
             Profile.objects.select_related("user").filter(account_id__in=[a for a in accounts if a])} \
        if any(accounts) else {}
    out: list[CustomValue] = []
    for cf in fields:
        value = issue.custom_fields.get(cf.field_id)
        if value is None:
            text = ""
        elif cf.field_type == CustomField.FieldType.USER:
            text = names.get(value, value)
        elif isinstance(value, list):
            text = " ".join(str(v) for v in value)
        elif isinstance(value, float) and value.is_integer():
            text = str(int(value))
        else:
            text = str(value)
        out.append(CustomValue(cf, value, text))
    return out


@dataclass(frozen=True)
class HistoryItem:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class HistoryEntry:
    entry: Changelog
    author: str
    items: list[HistoryItem]


def history(entries: QuerySet[Changelog]) -> list[HistoryEntry]:
    """The changelog as the issue page's History shows it: who, when, each field from → to."""
    out: list[HistoryEntry] = []
    for entry in entries:
        items = []
        for item in entry.items if isinstance(entry.items, list) else []:
            if not isinstance(item, dict):
                continue
            field_id = str(item.get("fieldId") or item.get("field") or "")
            name = SYSTEM_FIELD_NAMES.get(field_id) or str(item.get("field") or field_id)
            items.append(HistoryItem(name, str(item.get("fromString") or ""), str(item.get("toString") or "")))
        out.append(HistoryEntry(entry, person_name(entry.author) or "Issue Sync", items))
    return out
