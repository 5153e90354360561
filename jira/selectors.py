"""Reads of the site's issues, shaped for the pages and the REST API (a fixed number of queries each)."""
from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from jira.models import Changelog, Comment, Issue, Priority, Project, RemoteLink, Status

ISSUE_RELATED = ("project", "issue_type", "status", "priority", "assignee__jira_profile", "reporter__jira_profile")


def issues_all() -> QuerySet[Issue]:
    return Issue.objects.select_related(*ISSUE_RELATED)


def issue_get(id_or_key: str | int) -> Issue | None:
    """An issue by its id (digits) or key (`ALPHA-12`, any case)."""
    text = str(id_or_key).strip()
    qs = issues_all().order_by()  # one row by a unique column: no sort
    found = list(qs.filter(pk=int(text))[:1] if text.isdigit() else qs.filter(key=text.upper())[:1])
    return found[0] if found else None


def issue_comments(issue: Issue) -> QuerySet[Comment]:
    return Comment.objects.filter(issue=issue).select_related("author__jira_profile").order_by("created", "pk")


def issue_changelog(issue: Issue) -> QuerySet[Changelog]:
    return Changelog.objects.filter(issue=issue).select_related("author__jira_profile").order_by("created", "pk")


def issue_remote_links(issue: Issue) -> QuerySet[RemoteLink]:
    return RemoteLink.objects.filter(issue=issue).order_by("pk")


def issue_list(*, project: Project | None = None, status: Status | None = None, text: str = "",
               assignee: User | None = None) -> QuerySet[Issue]:
    """What a project's issue list shows, newest first."""
    qs = issues_all()
    if project is not None:
        qs = qs.filter(project=project)
    if status is not None:
        qs = qs.filter(status=status)
    if assignee is not None:
        qs = qs.filter(assignee=assignee)
    if text.strip():
        qs = qs.filter(Q(summary__icontains=text.strip()) | Q(key=text.strip().upper()))
    return qs.order_by("-created", "-pk")


def priorities() -> QuerySet[Priority]:
    return Priority.objects.order_by("position")


def users_search(query: str = "") -> QuerySet[User]:
    qs = User.objects.select_related("jira_profile").filter(is_active=True).order_by("username")
    if query.strip():
        q = query.strip()
        qs = qs.filter(Q(username__icontains=q) | Q(email__icontains=q) | Q(first_name__icontains=q)
                       | Q(last_name__icontains=q) | Q(jira_profile__display_name__icontains=q))
    return qs
