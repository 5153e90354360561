"""Reads of the site's issues, shaped for the pages and the REST API (a fixed number of queries each)."""
from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from issuesync.prepared import Param, Prepared
from jira.models import Changelog, Comment, Issue, Priority, RemoteLink

# The small tables an issue names are joined to the issue query; its people are read in one more query
# (`with_people`): joining auth_user and the profile twice makes nine tables, and PostgreSQL then spends
# 25 ms planning a query that runs in 1 ms (5 ms for one issue by key), against about 1 ms with five.
ISSUE_RELATED = ("project", "issue_type", "status", "priority")
_ASSIGNEE = Issue._meta.get_field("assignee")
_REPORTER = Issue._meta.get_field("reporter")


def issues_all() -> QuerySet[Issue]:
    """Issues with their project, type, status and priority; pass the rows read to `with_people`."""
    return Issue.objects.select_related(*ISSUE_RELATED)


def with_people(issues: list[Issue]) -> list[Issue]:
    """The issues, their assignee and reporter (with the Jira profile) set from one query."""
    ids = {pk for i in issues for pk in (i.assignee_id, i.reporter_id) if pk is not None}
    people: dict[int | None, User] = (
        {u.pk: u for u in User.objects.select_related("jira_profile").filter(pk__in=ids)} if ids else {})
    for issue in issues:
        _ASSIGNEE.set_cached_value(issue, people.get(issue.assignee_id))
        _REPORTER.set_cached_value(issue, people.get(issue.reporter_id))
    return issues


# Every API call on an issue finds it so (one row by a unique column: no sort); built once (issuesync.prepared).
_ISSUE_BY_ID = Prepared(lambda: issues_all().order_by().filter(pk=Param("pk", Issue._meta.pk))[:1])
_ISSUE_BY_KEY = Prepared(lambda: issues_all().order_by().filter(key=Param("key", Issue._meta.get_field("key")))[:1])


def issue_get(id_or_key: str | int, *, people: bool = True) -> Issue | None:
    """An issue by its id (digits) or key (`ALPHA-12`, any case), with its people unless `people=False`
    (a caller that only needs to find it, as an edit that reads it again under its lock)."""
    text = str(id_or_key).strip()
    found = _ISSUE_BY_ID.all(pk=int(text)) if text.isdigit() else _ISSUE_BY_KEY.all(key=text.upper())
    if not found:
        return None
    return with_people(found)[0] if people else found[0]


def issue_comments(issue: Issue) -> QuerySet[Comment]:
    return Comment.objects.filter(issue=issue).select_related("author__jira_profile").order_by("created", "pk")


def issue_changelog(issue: Issue) -> QuerySet[Changelog]:
    return Changelog.objects.filter(issue=issue).select_related("author__jira_profile").order_by("created", "pk")


def issue_remote_links(issue: Issue) -> QuerySet[RemoteLink]:
    return RemoteLink.objects.filter(issue=issue).order_by("pk")



def priorities() -> QuerySet[Priority]:
    return Priority.objects.order_by("position")


def users_search(query: str = "") -> QuerySet[User]:
    qs = User.objects.select_related("jira_profile").filter(is_active=True).order_by("username")
    if query.strip():
        q = query.strip()
        qs = qs.filter(Q(username__icontains=q) | Q(email__icontains=q) | Q(first_name__icontains=q)
                       | Q(last_name__icontains=q) | Q(jira_profile__display_name__icontains=q))
    return qs
