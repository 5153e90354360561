"""The service functions: one place where every change to an issue happens, and one signal after commit."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from jira import services
from jira.fields import FieldErrors
from jira.models import Changelog, Comment, Issue, RemoteLink
from jira.signals import IssueChange, IssueEvent, Origin, OriginKind, issue_changed
from tests.jira.conftest import Site

pytestmark = pytest.mark.django_db


@pytest.fixture
def changes(transactional_db: None) -> Iterator[list[IssueChange]]:
    """What `issue_changed` sent; real commits, so on_commit runs as in production."""
    seen: list[IssueChange] = []

    def receiver(sender: object, change: IssueChange, **kwargs: object) -> None:
        seen.append(change)

    issue_changed.connect(receiver, dispatch_uid="test-receiver")
    try:
        yield seen
    finally:
        issue_changed.disconnect(dispatch_uid="test-receiver")


def _create(site: Site, actor: Any = None, **fields: Any) -> Issue:
    actor = actor if isinstance(actor, User) else site.member
    return services.issue_create(actor=actor, origin=Origin.person(actor.pk), fields={
        "project": {"key": "ALPHA"}, "issuetype": {"name": "Bug"}, "summary": "Crash on save", **fields})


def test_it_numbers_issues_per_project_and_never_reuses_a_key(site: Site) -> None:
    first, second = _create(site), _create(site)
    web = _create(site, project={"key": "WEB"})
    assert (first.key, second.key, web.key) == ("ALPHA-1", "ALPHA-2", "WEB-1")
    services.issue_delete(actor=site.admin, origin=Origin.person(site.admin.pk), issue=second)
    assert _create(site).key == "ALPHA-3"
    assert str(first.pk).isdigit()


def test_a_new_issue_starts_in_the_workflow_s_first_status_with_defaults(site: Site) -> None:
    issue = _create(site, description="Steps:\nclick save", labels=["ui", "crash"],
                    **{site.severity.field_id: {"value": "major"}, site.points.field_id: 3})
    assert issue.status.name == "To Do" and issue.priority is not None and issue.priority.name == "Medium"
    assert issue.reporter == site.member and issue.version == 1
    assert issue.description == {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Steps:"}]},
        {"type": "paragraph", "content": [{"type": "text", "text": "click save"}]}]}
    assert issue.labels == ["ui", "crash"]
    assert issue.custom_fields == {site.severity.field_id: "Major", site.points.field_id: 3.0}


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"summary": "x" * 50_000}, "summary", "less than 255"),
    ({"summary": ""}, "summary", "You must specify a summary"),
    ({"project": {"key": "NOPE"}}, "project", "valid project"),
    ({"issuetype": {"name": "Saga"}}, "issuetype", "valid issue type"),
    ({"priority": {"name": "Urgent"}}, "priority", "Priority"),
    ({"labels": ["two words"]}, "labels", "spaces"),
    ({"duedate": "tomorrow"}, "duedate", "yyyy-MM-dd"),
    ({"description": {"type": "doc", "content": [{"type": "blink"}]}}, "description", "Unknown node"),
    ({"description": {"no": "doc"}}, "description", "Atlassian Document"),
    ({"customfield_99999": "x"}, "customfield_99999", "cannot be set"),
    ({"frobnicate": 1}, "frobnicate", "cannot be set"),
])
def test_it_refuses_bad_fields_by_name_and_creates_nothing(site: Site, fields: dict[str, Any], field: str,
                                                          message: str) -> None:
    with pytest.raises(FieldErrors) as caught:
        _create(site, **fields)
    assert message in caught.value.errors[field]
    assert Issue.objects.count() == 0


def test_it_validates_custom_fields_by_type_and_options(site: Site) -> None:
    for value, field in (({"value": "Trivial"}, site.severity), ("many", site.points), (7, site.customer),
                         ("31/12/2026", site.golive)):
        with pytest.raises(FieldErrors) as caught:
            _create(site, **{field.field_id: value})
        assert field.field_id in caught.value.errors
    issue = _create(site, **{site.golive.field_id: "2026-12-31", site.customer.field_id: "ACME"})
    assert issue.custom_fields == {site.golive.field_id: "2026-12-31", site.customer.field_id: "ACME"}


def test_an_edit_records_one_changelog_entry_and_one_signal_with_its_origin(site: Site,
                                                                             changes: list[IssueChange]) -> None:
    issue = _create(site, labels=["a"])
    origin = Origin.partner_link("https://beta.atlassian.net")
    services.issue_update(actor=None, origin=origin, issue=issue,
                          fields={"summary": "Crash on save (Safari)", "assignee": {"accountId":
                                                                                    services.account_id_for("grace")}},
                          update={"labels": [{"add": "safari"}, {"remove": "a"}]})
    issue.refresh_from_db()
    assert issue.summary == "Crash on save (Safari)" and issue.labels == ["safari"] and issue.assignee == site.other
    assert issue.version == 2
    [entry] = Changelog.objects.filter(issue=issue)
    assert entry.origin_kind == "partner" and entry.origin_ref == "https://beta.atlassian.net"
    by_field = {item["fieldId"]: item for item in entry.items}
    assert by_field["summary"]["fromString"] == "Crash on save"
    assert by_field["labels"]["fromString"] == "a" and by_field["labels"]["toString"] == "safari"
    assert by_field["assignee"]["toString"] == "Grace Hopper"
    assert [c.event for c in changes] == [IssueEvent.CREATED, IssueEvent.UPDATED]
    assert changes[1].changelog == entry and changes[1].origin.kind == OriginKind.PARTNER


def test_an_edit_that_changes_nothing_records_and_sends_nothing(site: Site, changes: list[IssueChange]) -> None:
    issue = _create(site)
    services.issue_update(actor=site.member, origin=Origin.person(site.member.pk), issue=issue,
                          fields={"summary": "Crash on save"})
    assert Changelog.objects.count() == 0 and len(changes) == 1


def test_a_bad_edit_changes_nothing(site: Site) -> None:
    issue = _create(site)
    with pytest.raises(FieldErrors):
        services.issue_update(actor=site.member, origin=Origin.person(site.member.pk), issue=issue,
                              fields={"summary": "Fine", site.severity.field_id: {"value": "Nope"}})
    issue.refresh_from_db()
    assert issue.summary == "Crash on save" and issue.version == 1 and not Changelog.objects.exists()


def test_a_locked_edit_writes_in_its_callers_transaction_and_a_refused_one_leaves_it_usable(
        site: Site, transactional_db: None) -> None:
    issue = _create(site)
    origin = Origin.person(site.member.pk)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        locked = services.issue_locked(issue.pk)
        with pytest.raises(FieldErrors):
            services.issue_update(actor=site.member, origin=origin, issue=locked, locked=True,
                                  fields={"summary": "Fine", site.severity.field_id: {"value": "Nope"}})
        # Refused before any write: the caller's transaction goes on (a partner's apply then tries each field).
        services.issue_update(actor=site.member, origin=origin, issue=services.issue_locked(issue.pk), locked=True,
                              fields={"summary": "Fine"})
    assert not [q["sql"] for q in queries.captured_queries if "SAVEPOINT" in q["sql"]]
    issue.refresh_from_db()
    assert issue.summary == "Fine" and issue.version == 2 and Changelog.objects.filter(issue=issue).count() == 1
    with pytest.raises(TransactionManagementError):  # a locked row is edited in the transaction that locked it
        services.issue_update(actor=site.member, origin=origin, issue=issue, locked=True, fields={"summary": "No"})


def test_status_changes_only_through_a_transition_of_the_workflow(site: Site) -> None:
    issue = _create(site)
    origin = Origin.person(site.member.pk)
    with pytest.raises(FieldErrors, match="through a transition"):
        services.issue_update(actor=site.member, origin=origin, issue=issue, fields={"status": {"name": "Done"}})
    names = {t.name: t for t in services.transitions_available(issue)}
    assert set(names) == {"Start progress"}
    done = next(t for t in issue.project.transitions.all() if t.name == "Reopen")
    with pytest.raises(FieldErrors, match="is not valid for this issue"):
        services.issue_transition(actor=site.member, origin=origin, issue=issue, transition_id=done.pk)
    services.issue_transition(actor=site.member, origin=origin, issue=issue, transition_id=names["Start progress"].pk)
    issue.refresh_from_db()
    assert issue.status.name == "In Progress"
    [entry] = Changelog.objects.filter(issue=issue)
    assert entry.items[0]["fieldId"] == "status" and entry.items[0]["fromString"] == "To Do"


def test_only_administrators_delete_issues(site: Site, changes: list[IssueChange]) -> None:
    issue = _create(site)
    with pytest.raises(FieldErrors) as caught:
        services.issue_delete(actor=site.member, origin=Origin.person(site.member.pk), issue=issue)
    assert caught.value.status == 403 and Issue.objects.filter(pk=issue.pk).exists()
    services.issue_delete(actor=site.admin, origin=Origin.person(site.admin.pk), issue=issue)
    assert not Issue.objects.exists()
    assert changes[-1].event == IssueEvent.DELETED and changes[-1].issue.pk == issue.pk


def test_comments_are_changed_by_their_author_or_an_administrator(site: Site, changes: list[IssueChange]) -> None:
    issue = _create(site)
    comment = services.comment_add(actor=site.member, origin=Origin.person(site.member.pk), issue=issue,
                                   body="Seen on Safari too")
    assert comment.body["content"][0]["content"][0]["text"] == "Seen on Safari too"
    with pytest.raises(FieldErrors) as caught:
        services.comment_update(actor=site.other, origin=Origin.person(site.other.pk), comment=comment, body="Mine")
    assert caught.value.status == 403
    services.comment_update(actor=site.admin, origin=Origin.person(site.admin.pk), comment=comment, body="Edited")
    services.comment_delete(actor=site.member, origin=Origin.person(site.member.pk), comment=comment)
    assert not Comment.objects.exists()
    assert [c.event for c in changes] == [IssueEvent.CREATED, IssueEvent.COMMENT_CREATED,
                                          IssueEvent.COMMENT_UPDATED, IssueEvent.COMMENT_DELETED]
    with pytest.raises(FieldErrors, match="empty"):
        services.comment_add(actor=site.member, origin=Origin.person(site.member.pk), issue=issue, body="")


def test_a_remote_link_is_upserted_by_its_global_id(site: Site) -> None:
    issue = _create(site)
    origin = Origin.api_token(site.member.pk, None)
    link, created = services.remote_link_upsert(actor=site.member, origin=origin, issue=issue,
                                                global_id="beta:10001", url="https://beta.atlassian.net/browse/BETA-1",
                                                title="BETA-1")
    again, created_again = services.remote_link_upsert(actor=site.member, origin=origin, issue=issue,
                                                       global_id="beta:10001",
                                                       url="https://beta.atlassian.net/browse/BETA-1",
                                                       title="BETA-1 Crash")
    assert created and not created_again and again.pk == link.pk
    assert RemoteLink.objects.get().title == "BETA-1 Crash"


def test_an_edit_made_with_the_version_read_before_a_remote_link_was_added_goes_through(site: Site) -> None:
    issue = _create(site)
    read = Issue.objects.get(pk=issue.pk).version  # the issue view shows it; then Issue Sync links the copy
    services.remote_link_upsert(actor=None, origin=Origin.partner_link("https://beta.atlassian.net"), issue=issue,
                                global_id="beta:10002", url="https://beta.atlassian.net/browse/BETA-2", title="BETA-2")
    edited = services.issue_update(actor=site.member, origin=Origin.person(site.member.pk), issue=issue,
                                   fields={"summary": "Renamed in place"}, expected_version=read)
    assert edited.summary == "Renamed in place" and edited.version == read + 1
    with pytest.raises(FieldErrors, match="changed by someone else"):  # a real edit meanwhile still wins
        services.issue_update(actor=site.member, origin=Origin.person(site.member.pk), issue=issue,
                              fields={"summary": "Stale"}, expected_version=read)


def test_bulk_create_reports_each_bad_issue_by_position(site: Site, changes: list[IssueChange]) -> None:
    good = {"fields": {"project": {"key": "ALPHA"}, "issuetype": {"name": "Task"}, "summary": "One"}}
    bad = {"fields": {"project": {"key": "ALPHA"}, "issuetype": {"name": "Task"}}}
    created, failed = services.issues_create_bulk(actor=site.member, origin=Origin.person(site.member.pk),
                                                  updates=[good, bad, good])
    assert [i.key for i in created] == ["ALPHA-1", "ALPHA-2"]
    assert [(pos, list(e.errors)) for pos, e in failed] == [(1, ["summary"])]
    assert len(changes) == 2


def test_every_user_gets_an_account_id_and_tokens_are_stored_hashed(site: Site) -> None:
    profile = site.member.jira_profile
    assert profile.account_id.startswith("712020:") and profile.display_name == "Team Member"
    row, token = services.api_token_create(user=site.member, label="CI")
    assert token not in (row.digest, row.prefix) and row.digest == services.api_token_digest(token)
    assert services.api_token_revoke(user=site.other, token_id=row.pk) is False
    assert services.api_token_revoke(user=site.member, token_id=row.pk) is True


def test_an_inactive_user_may_change_nothing(site: Site) -> None:
    site.member.is_active = False
    with pytest.raises(FieldErrors) as caught:
        _create(site)
    assert caught.value.status == 403
