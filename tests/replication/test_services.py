"""Issue sync's services on one site (alpha), with the partner's messages written as beta would send them."""
from __future__ import annotations

import dataclasses
import datetime
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.db import OperationalError, connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from invitations.inbox import Received, inbox_apply, inbox_apply_many
from invitations.messages import Envelope, MalformedMessage, envelope_from
from invitations.models import LinkStream, OutboxMessage
from invitations.outbox import link_open, links_locked
from jira import services as jira
from jira.fields import FieldErrors
from jira.models import Changelog, Comment, Issue, IssueType, Project, SiteConfiguration
from jira.signals import Origin
from mappings.models import Mapping
from replication import receivers, services
from replication.merge import clock_at
from replication.models import CommentLink, IssueLink, LinkState
from replication.wire import COMMENT_STATE, COMMENTS_STATE, ISSUE_STATE, issue_stream
from synchronizations.models import Role, Scope, Synchronization
from synchronizations.services import synchronization_locked
from synchronizations.states import InvitationStatus
from tests.jira.test_rest import Api as RestApi

pytestmark = pytest.mark.django_db
ALPHA, BETA = "https://alpha.atlassian.net", "https://beta.atlassian.net"
LATER = datetime.timedelta(seconds=5)


@pytest.fixture
def admin() -> User:
    return User.objects.create_superuser("admin", "admin@example.com", "admin")


@pytest.fixture
def sync(admin: User) -> Synchronization:
    project = Project.objects.create(key="ALPHA", name="Alpha")
    IssueType.objects.get_or_create(name="Bug")
    jira.priorities_ensure()
    jira.workflow_ensure(project=project)
    sync = _active("S", BETA)
    Mapping.objects.create(
        synchronization=sync, name="Bugs", inviter_project="ALPHA", invitee_project="BETA",
        issue_types=[{"inviter": "Bug", "invitee": "Bug"}],
        field_pairs=[{"inviter": f, "invitee": f, "direction": "both"}
                     for f in ("summary", "description", "priority", "status", "labels")],
        value_maps={"priority": [{"inviter": "Highest", "invitee": "Blocker"}]}, comments="both",
        filter="labels != private", enabled=True, version=1, updated_at=timezone.now())
    return sync


def _active(name: str, partner: str) -> Synchronization:
    """An active synchronization with `partner` (seeing BETA's bugs) and its link, as an accepted one."""
    sync = Synchronization.objects.create(
        name=name, partner_address=partner, role=Role.INVITER, status=InvitationStatus.ACTIVE,
        scope=Scope.objects.create(),
        partner_visible={"projects": [{"key": "BETA", "name": "Beta"}], "issue_types": [{"name": "Bug"}]})
    link_open(link_id=sync.pk, partner_address=partner, partner_key_id="k", partner_public_key_pem="pem")
    return sync


def _mapping(sync: Synchronization) -> Mapping:
    return Mapping.objects.get(synchronization=sync)


def _create(admin: User, summary: str = "Crash", **fields: Any) -> Issue:
    return jira.issue_create(actor=admin, origin=Origin.person(admin.pk), fields={
        "project": {"key": "ALPHA"}, "issuetype": {"name": "Bug"}, "summary": summary, **fields})


def _sent(sync: Synchronization, kind: str = ISSUE_STATE) -> list[dict[str, Any]]:
    # In the order written: each issue has its own stream, so sequences start at 1 for every issue.
    rows = (OutboxMessage.objects.filter(synchronization_id=sync.pk, message_type=kind)
            .order_by("created_at", "sequence"))
    return [json.loads(bytes(r.body))["payload"] for r in rows]


def _from_beta(sync: Synchronization, origin_site: str, origin_id: str, values: dict[str, Any], *,
               issue_id: str = "900", key: str = "BETA-9", deleted: bool = False) -> dict[str, Any]:
    return {"origin_site": origin_site, "origin_issue_id": origin_id, "mapping_id": str(_mapping(sync).pk),
            "issue_id": issue_id, "key": key, "url": f"{BETA}/browse/{key}", "issue_type": "Bug",
            "values": values, "source_deleted": deleted}


def _last_change_at(issue: Issue) -> datetime.datetime:
    return Changelog.objects.filter(issue=issue).latest("created", "pk").created


def _state(value: Any, at: datetime.datetime, site: str = BETA) -> dict[str, Any]:
    return {"v": value, "c": clock_at(at, site)}


def test_it_sends_a_new_matching_issue_with_its_mapped_fields(sync: Synchronization, admin: User) -> None:
    issue = _create(admin, priority={"name": "High"}, labels=["mobile"])
    assert services.issue_push(issue=issue.pk, synchronization=sync) == "sent"
    (payload,) = _sent(sync)
    assert payload["origin_site"] == ALPHA and payload["origin_issue_id"] == str(issue.pk)
    assert payload["key"] == issue.key and payload["issue_type"] == "Bug"
    assert {k: v["v"] for k, v in payload["values"].items()} == {
        "summary": "Crash", "description": None, "priority": "High", "status": "To Do", "labels": ["mobile"]}
    assert all(v["c"][1] == ALPHA for v in payload["values"].values())
    link = IssueLink.objects.get(synchronization=sync)
    assert link.state == LinkState.PENDING and link.local_key == issue.key


def _on_its_way(sync: Synchronization) -> None:
    """Every message written so far has been sent once (a worker claimed it)."""
    OutboxMessage.objects.filter(synchronization_id=sync.pk).update(attempts=1)


def test_it_sends_only_what_changed_and_nothing_when_nothing_did(sync: Synchronization, admin: User) -> None:
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    _on_its_way(sync)
    jira.issue_update(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk, fields={"summary": "Crash on start"})
    assert services.issue_push(issue=issue.pk, synchronization=sync) == "sent"
    assert list(_sent(sync)[-1]["values"]) == ["summary"]
    assert services.issue_push(issue=issue.pk, synchronization=sync) == "unchanged"
    assert len(_sent(sync)) == 2


def test_changes_made_while_the_issues_message_waits_to_be_sent_join_it(sync: Synchronization, admin: User) -> None:
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)

    def edit(**fields: Any) -> None:
        jira.issue_update(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk, fields=fields)
        services.issue_push(issue=issue.pk, synchronization=sync)

    edit(summary="Crash on start")
    edit(labels=["ios"])
    # Not sent yet: one message (the first of the issue's stream, so the partner creates the copy from
    # it) with the latest value of every field, each with its own clock.
    (payload,) = _sent(sync)
    values = {k: v["v"] for k, v in payload["values"].items()}
    assert values == {"summary": "Crash on start", "description": None, "priority": "Medium", "status": "To Do",
                      "labels": ["ios"]}
    link = IssueLink.objects.get(synchronization=sync)
    assert {k: v["c"] for k, v in payload["values"].items()} == {k: v["c"] for k, v in link.fields.items()}
    stream = issue_stream(ALPHA, str(issue.pk))
    assert LinkStream.objects.get(link_id=sync.pk, stream=stream).last_sent == 1
    assert OutboxMessage.objects.get(synchronization_id=sync.pk).sequence == 1
    # Once it has been sent (even if not answered yet), a change goes in a message of its own.
    _on_its_way(sync)
    edit(summary="Crash on start (iOS)")
    assert [list(p["values"]) for p in _sent(sync)][1:] == [["summary"]]
    # That one joins the next change while it waits; a deletion never joins: it goes as its own message.
    edit(summary="Crash on start (iOS 18)")
    services.issue_deleted_push(issue_id=str(issue.pk))
    assert [(p["values"] and p["values"]["summary"]["v"], p["source_deleted"]) for p in _sent(sync)][1:] == [
        ("Crash on start (iOS 18)", False), ({}, True)]
    assert list(OutboxMessage.objects.filter(synchronization_id=sync.pk).order_by("sequence")
                .values_list("sequence", flat=True)) == [1, 2, 3]


def test_a_change_sent_late_carries_the_time_it_was_made_however_many_edits_came_after(
        sync: Synchronization, admin: User) -> None:
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    _on_its_way(sync)
    services.synchronization_pause(synchronization=sync)
    jira.issue_update(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk, fields={"summary": "Renamed"})
    renamed = _last_change_at(issue)
    for n in range(12):  # more than a first read of the newest changelog rows takes
        jira.issue_update(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk, fields={"labels": [f"l{n}"]})
    services.synchronization_resume(synchronization=sync)
    values = _sent(sync)[-1]["values"]
    assert values["summary"] == {"v": "Renamed", "c": clock_at(renamed, ALPHA)}
    assert values["labels"]["c"] == clock_at(_last_change_at(issue), ALPHA)


def test_a_push_takes_the_edited_fields_clock_from_its_change_while_it_is_the_latest(
        sync: Synchronization, admin: User) -> None:
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    origin = Origin.person(admin.pk)

    def edited(summary: str) -> Changelog:
        jira.issue_update(actor=admin, origin=origin, issue=issue.pk, fields={"summary": summary})
        return Changelog.objects.filter(issue=issue).latest("created", "pk")

    def pushed(change: Changelog) -> tuple[dict[str, Any], list[str]]:
        OutboxMessage.objects.update(state="delivered", attempts=1)  # each push writes its own message
        with CaptureQueriesContext(connection) as queries:
            assert services.issue_push(issue=issue.pk, synchronization=sync, change=change) == "sent"
        return _sent(sync)[-1]["values"]["summary"], [q["sql"] for q in queries.captured_queries]

    first = edited("Renamed")
    summary, sqls = pushed(first)
    assert summary == {"v": "Renamed", "c": clock_at(first.created, ALPHA)}
    assert not any('FROM "jira_changelog"' in q for q in sqls)  # the change's own time, not read again
    # A change that is no longer the issue's latest says nothing: the field's time is read.
    stale, latest = edited("Renamed again"), edited("Renamed at last")
    summary, sqls = pushed(stale)
    assert summary == {"v": "Renamed at last", "c": clock_at(latest.created, ALPHA)}
    assert any('FROM "jira_changelog"' in q for q in sqls)


def test_a_partners_change_goes_on_along_the_sites_other_synchronizations_only(
        sync: Synchronization, admin: User, django_capture_on_commit_callbacks: Any) -> None:
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)

    def beta_edits(summary: str, at: datetime.datetime) -> None:
        with django_capture_on_commit_callbacks(execute=True):  # the receiver runs, as after the inbox's commit
            services.issue_state_apply(sync=sync, sender=BETA, payload=_from_beta(
                sync, ALPHA, str(issue.pk), {"summary": _state(summary, at)}))

    with CaptureQueriesContext(connection) as alone:
        beta_edits("Edited on beta", timezone.now() + LATER)
    assert len(_sent(sync)) == 1  # never back to beta
    # With no other active synchronization, the app's switch is not even read after the commit.
    assert not any("jira_siteconfiguration" in q["sql"] for q in alone.captured_queries)
    gamma = _active("G", "https://gamma.atlassian.net")
    mapping = _mapping(sync)
    mapping.pk, mapping.synchronization = None, gamma
    mapping.save()
    beta_edits("Edited on beta again", timezone.now() + 2 * LATER)
    assert len(_sent(sync)) == 1
    (to_gamma,) = _sent(gamma)
    assert to_gamma["values"]["summary"]["v"] == "Edited on beta again"


def test_a_partners_changes_in_one_request_ask_once_whether_another_synchronization_takes_them(
        sync: Synchronization, admin: User, django_capture_on_commit_callbacks: Any) -> None:
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    t = timezone.now()
    bundle = {"origin_site": ALPHA, "origin_issue_id": str(issue.pk),
              "comments": [_comment_item(str(n), f"Note {n}", t) for n in range(4)]}

    def announced(payload: dict[str, Any], *, in_request: bool) -> list[str]:
        if in_request:  # what Django's request_started sends it (the signal itself also closes old connections)
            receivers.on_request_started(sender=None)
        try:
            with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
                services.comments_state_apply(sync=sync, sender=BETA, payload=payload)
        finally:
            if in_request:
                receivers.on_request_finished(sender=None)
        return [q["sql"] for q in queries.captured_queries]

    def asked(sqls: list[str]) -> int:
        table = '"synchronizations_synchronization"'
        return sum(q.startswith(f'SELECT {table}."id" FROM {table}') and " NOT (" in q for q in sqls)

    # Four comments announced after commit: asked once in a request (the inbox's), each time outside one.
    sqls = announced(bundle, in_request=True)
    assert asked(sqls) == 1 and not any("jira_siteconfiguration" in q for q in sqls)
    later = {**bundle, "comments": [_comment_item(str(n), f"Note {n}, edited", t + LATER) for n in range(2)]}
    assert asked(announced(later, in_request=False)) == 2
    # Asked again in the next request: the changes go on to a synchronization activated meanwhile (there,
    # only the partner's comments' copies, which stay with their author's site).
    _active("G", "https://gamma.atlassian.net")
    last = {**bundle, "comments": [_comment_item(str(n), f"Note {n}, again", t + 2 * LATER) for n in range(3)]}
    sqls = announced(last, in_request=True)
    assert asked(sqls) == 1 and any("jira_siteconfiguration" in q for q in sqls)


def test_it_never_sends_back_a_value_applied_from_the_partner(sync: Synchronization, admin: User) -> None:
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    later = timezone.now() + LATER
    services.issue_state_apply(sync=sync, sender=BETA, payload=_from_beta(
        sync, ALPHA, str(issue.pk), {"summary": _state("Edited on beta", later)}))
    issue.refresh_from_db()
    assert issue.summary == "Edited on beta"
    assert services.issue_push(issue=issue.pk, synchronization=sync) == "unchanged"
    assert len(_sent(sync)) == 1
    link = IssueLink.objects.get(synchronization=sync)
    assert link.partner_key == "BETA-9" and link.state == LinkState.IN_SYNC


def test_a_local_value_that_beat_the_partners_still_goes_to_it_when_edited_back(
        sync: Synchronization, admin: User) -> None:
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    _on_its_way(sync)

    def edit(summary: str) -> datetime.datetime:  # committed, its push not run yet (as in the moment after commit)
        jira.issue_update(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk, fields={"summary": summary})
        return _last_change_at(issue)

    renamed = edit("Renamed here")
    between = issue.created + (renamed - issue.created) / 2  # after what was synchronized, before this edit
    services.issue_state_apply(sync=sync, sender=BETA, payload=_from_beta(
        sync, ALPHA, str(issue.pk), {"summary": _state("Renamed on beta", between)}))
    issue.refresh_from_db()
    assert issue.summary == "Renamed here"  # the later edit wins; beta now holds the older "Renamed on beta"
    back = edit("Crash")  # back to the value synchronized before beta's edit
    assert services.issue_push(issue=issue.pk, synchronization=sync) == "sent"
    assert _sent(sync)[-1]["values"] == {"summary": {"v": "Crash", "c": clock_at(back, ALPHA)}}


def test_an_older_value_loses_and_a_tie_goes_to_the_larger_site_address(sync: Synchronization, admin: User) -> None:
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    sent_clock = _sent(sync)[0]["values"]["summary"]["c"]
    at = datetime.datetime.strptime(sent_clock[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.UTC)
    services.issue_state_apply(sync=sync, sender=BETA, payload=_from_beta(
        sync, ALPHA, str(issue.pk), {"summary": _state("Older", at - LATER)}))
    issue.refresh_from_db()
    assert issue.summary == "Crash"
    # Same time: beta's address sorts after alpha's, so beta's value wins, on both sites alike.
    services.issue_state_apply(sync=sync, sender=BETA, payload=_from_beta(
        sync, ALPHA, str(issue.pk), {"summary": _state("Tie", at)}))
    issue.refresh_from_db()
    assert issue.summary == "Tie"


def test_a_create_delivered_twice_makes_one_copy_and_one_answer(sync: Synchronization, admin: User) -> None:
    now = timezone.now()
    payload = _from_beta(sync, BETA, "77", {"summary": _state("From beta", now), "priority": _state("Blocker", now),
                                            "status": _state("In Progress", now)}, issue_id="77", key="BETA-3")
    for _ in range(2):
        assert services.issue_state_apply(sync=sync, sender=BETA, payload=payload) == "applied"
    (link,) = IssueLink.objects.filter(synchronization=sync)
    copy = Issue.objects.get(pk=link.local_issue_id)
    assert copy.summary == "From beta" and copy.priority and copy.priority.name == "Highest"  # through the value map
    assert copy.status.name == "In Progress"  # through the workflow's transition
    assert Issue.objects.count() == 1
    assert copy.remote_links.get().title.startswith("BETA-3")
    (answer,) = _sent(sync)
    assert answer["values"] == {} and answer["key"] == copy.key and answer["origin_issue_id"] == "77"
    assert copy.reporter and copy.reporter.username == services.APP_USERNAME


def test_the_inbox_dedupes_an_issue_message_and_applies_it_on_the_issues_own_stream(
    sync: Synchronization
) -> None:
    payload = _from_beta(sync, BETA, "78", {"summary": _state("Via the inbox", timezone.now())}, issue_id="78")
    stream = issue_stream(BETA, "78")
    envelope = Envelope(id=uuid.uuid4(), type=ISSUE_STATE, synchronization_id=sync.pk, sequence=1, sender=BETA,
                        recipient=ALPHA, created_at=timezone.now(), payload=payload, stream=stream)
    key: dict[str, Any] = {"partner_key_id": "k", "partner_public_key_pem": "pem"}
    assert inbox_apply(envelope=envelope, body=b"{}", **key).status == "applied"
    assert inbox_apply(envelope=envelope, body=b"{}", **key).status == "duplicate"
    counter = LinkStream.objects.get(link_id=sync.pk, stream=stream)
    assert counter.last_received == 1 and counter.last_sent == 1  # the answer took the stream's next number
    assert LinkStream.objects.get(link_id=sync.pk, stream="").last_sent == 0  # the lifecycle is not involved
    assert Issue.objects.filter(summary="Via the inbox").count() == 1


def test_a_value_with_no_translation_is_left_unset_reported_and_waits_for_retry_or_skip(
    sync: Synchronization, admin: User
) -> None:
    issue = _create(admin, priority={"name": "Low"})
    services.issue_push(issue=issue.pk, synchronization=sync)
    t = timezone.now() + LATER
    services.issue_state_apply(sync=sync, sender=BETA, payload=_from_beta(
        sync, ALPHA, str(issue.pk), {"priority": _state("Trivial", t), "summary": _state("Applied", t)}))
    issue.refresh_from_db()
    assert issue.summary == "Applied" and issue.priority and issue.priority.name == "Low"  # not guessed
    link = IssueLink.objects.get(synchronization=sync)
    assert link.state == LinkState.ERROR and "Trivial" in link.error and link.error_where == ALPHA
    # A later change of this issue waits behind the error, merged by clock.
    services.issue_state_apply(sync=sync, sender=BETA, payload=_from_beta(
        sync, ALPHA, str(issue.pk), {"summary": _state("Waiting", t + LATER)}))
    issue.refresh_from_db()
    assert issue.summary == "Applied"
    # The admin maps the value and retries: the latest state applies.
    mapping = _mapping(sync)
    mapping.value_maps["priority"].append({"inviter": "Lowest", "invitee": "Trivial"})
    mapping.save()
    link = services.link_retry(link=link)
    issue.refresh_from_db()
    assert link.state == LinkState.IN_SYNC and issue.summary == "Waiting" and issue.priority.name == "Lowest"

    services.issue_state_apply(sync=sync, sender=BETA, payload=_from_beta(
        sync, ALPHA, str(issue.pk), {"priority": _state("Nope", t + 2 * LATER)}))
    link = services.link_skip(link=IssueLink.objects.get(pk=link.pk))
    assert link.state == LinkState.IN_SYNC and link.pending == {} and link.error == ""


def test_comments_are_copied_once_with_author_and_site_and_edits_and_deletes_follow(
    sync: Synchronization, admin: User
) -> None:
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    t = timezone.now()
    comment: dict[str, Any] = {"origin_site": ALPHA, "origin_issue_id": str(issue.pk), "comment_site": BETA,
                               "comment_id": "5", "author": "Bea", "clock": clock_at(t, BETA), "deleted": False,
                               "body": {"type": "doc", "version": 1, "content": [
                                   {"type": "paragraph", "content": [{"type": "text", "text": "Repro'd"}]}]}}
    for _ in range(2):
        services.comment_state_apply(sync=sync, sender=BETA, payload=comment)
    (copy,) = Comment.objects.filter(issue=issue)
    text = json.dumps(copy.body)
    assert "Bea wrote on beta.atlassian.net" in text and "Repro'd" in text
    assert copy.author and copy.author.username == services.APP_USERNAME
    edited = {**comment, "clock": clock_at(t + LATER, BETA),
              "body": {"type": "doc", "version": 1, "content": [
                  {"type": "paragraph", "content": [{"type": "text", "text": "Fixed"}]}]}}
    services.comment_state_apply(sync=sync, sender=BETA, payload=edited)
    services.comment_state_apply(sync=sync, sender=BETA, payload=comment)  # the older edit, late: ignored
    copy.refresh_from_db()
    assert "Fixed" in json.dumps(copy.body)
    services.comment_state_apply(sync=sync, sender=BETA, payload={**edited, "deleted": True, "body": None,
                                                                   "clock": clock_at(t + 2 * LATER, BETA)})
    assert not Comment.objects.filter(issue=issue).exists()
    services.comment_state_apply(sync=sync, sender=BETA, payload=edited)  # an edit after the delete: stays deleted
    assert not Comment.objects.filter(issue=issue).exists()
    assert CommentLink.objects.get().deleted

    # A local comment goes out; the copy of the partner's never goes back.
    mine = jira.comment_add(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk, body="Local note")
    assert services.comment_push(comment=mine, issue=issue, deleted=False) == 1
    (sent,) = _sent(sync, COMMENT_STATE)
    assert sent["comment_site"] == ALPHA and sent["comment_id"] == str(mine.pk) and sent["author"] == "admin"


def test_an_issue_that_stops_matching_is_paused_and_resumes_with_its_changes(
    sync: Synchronization, admin: User
) -> None:
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    jira.issue_update(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk,
                      fields={"labels": ["private"], "summary": "Secret"})
    assert services.issue_push(issue=issue.pk, synchronization=sync) == "not matching"
    assert IssueLink.objects.get().state == LinkState.PAUSED
    assert len(_sent(sync)) == 1
    jira.issue_update(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk, fields={"labels": []})
    assert services.issue_push(issue=issue.pk, synchronization=sync) == "sent"
    assert _sent(sync)[-1]["values"]["summary"]["v"] == "Secret"


@pytest.mark.parametrize("mode", [Scope.Mode.HIDE_ONLY_SELECTED, Scope.Mode.SHOW_ONLY_SELECTED])
def test_an_issue_the_sites_scope_no_longer_shows_is_neither_sent_nor_changed_by_the_partner(
    sync: Synchronization, admin: User, mode: str
) -> None:
    issue = _create(admin)
    assert services.issue_push(issue=issue.pk, synchronization=sync) == "sent"
    scope = sync.scope
    scope.mode = mode
    scope.save()
    # Hidden: the project selected to be hidden, or (showing only what is selected) another issue type only.
    if mode == Scope.Mode.HIDE_ONLY_SELECTED:
        scope.projects.set([issue.project])
    else:
        scope.projects.set([issue.project])
        scope.issue_types.set(IssueType.objects.exclude(pk=issue.issue_type_id))
    jira.issue_update(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk, fields={"summary": "Hidden"})
    assert services.issue_push(issue=issue.pk, synchronization=sync) == "not matching"
    assert len(_sent(sync)) == 1
    services.issue_state_apply(sync=sync, sender=BETA, payload=_from_beta(
        sync, ALPHA, str(issue.pk), {"summary": _state("From beta", timezone.now() + LATER)}))
    issue.refresh_from_db()
    assert issue.summary == "Hidden"
    assert IssueLink.objects.get().state == LinkState.PAUSED


def test_while_paused_changes_are_recorded_and_flow_on_resume(sync: Synchronization, admin: User) -> None:
    services.synchronization_pause(synchronization=sync)
    first = _create(admin, "First")
    _create(admin, "Second")
    assert services.issue_push(issue=first.pk, synchronization=sync) == "paused"
    assert _sent(sync) == []
    assert services.synchronization_resume(synchronization=sync) == 2
    assert [p["values"]["summary"]["v"] for p in _sent(sync)] == ["First", "Second"]


@override_settings(INBOUND_MAX_BODY_BYTES=6000)
def test_a_field_too_large_for_one_message_is_refused_as_that_issues_error(sync: Synchronization,
                                                                           admin: User) -> None:
    issue = _create(admin, description="x" * 5000)
    assert services.issue_push(issue=issue.pk, synchronization=sync) == "sent"
    (payload,) = _sent(sync)
    assert "description" not in payload["values"] and payload["values"]["summary"]["v"] == "Crash"
    link = IssueLink.objects.get()
    assert link.state == LinkState.ERROR and "description is too large" in link.error
    assert services.issue_push(issue=issue.pk, synchronization=sync) == "waiting"
    jira.issue_update(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk, fields={"description": "short"})
    link = services.link_retry(link=link)
    assert _sent(sync)[-1]["values"]["description"]["v"]["content"][0]["content"][0]["text"] == "short"
    assert link.state == LinkState.PENDING


def test_a_deleted_source_is_shown_on_the_copy_not_deleted(sync: Synchronization, admin: User) -> None:
    now = timezone.now()
    services.issue_state_apply(sync=sync, sender=BETA, payload=_from_beta(
        sync, BETA, "80", {"summary": _state("Doomed on beta", now)}, issue_id="80", key="BETA-8"))
    services.issue_state_apply(sync=sync, sender=BETA, payload=_from_beta(
        sync, BETA, "80", {}, issue_id="80", key="BETA-8", deleted=True))
    link = IssueLink.objects.get()
    assert link.partner_gone and link.state == LinkState.PAUSED
    copy = Issue.objects.get(pk=link.local_issue_id)
    assert "deleted there" in copy.remote_links.get().title


def test_enabling_a_mapping_again_resumes_its_paused_issues_without_copying_untouched_ones(
    sync: Synchronization, admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    untouched = _create(admin, "Never changed while mapped")
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    mapping = _mapping(sync)
    mapping.enabled = False
    mapping.save()
    Synchronization.objects.filter(pk=sync.pk).update(status=InvitationStatus.NOT_CONFIGURED)
    jira.issue_update(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk, fields={"summary": "While off"})
    assert services.issue_push(issue=issue.pk, synchronization=sync) == "not matching"
    assert IssueLink.objects.get().state == LinkState.PAUSED
    Synchronization.objects.filter(pk=sync.pk).update(status=InvitationStatus.ACTIVE)
    with mock.patch("replication.tasks.synchronization_catch_up.delay") as ring, \
            django_capture_on_commit_callbacks(execute=True):
        mapping.enabled = True
        mapping.save()
    ring.assert_called_once_with(str(sync.pk))
    from replication.tasks import synchronization_catch_up

    assert synchronization_catch_up(str(sync.pk)) == 1
    assert _sent(sync)[-1]["values"]["summary"]["v"] == "While off"
    assert not IssueLink.objects.filter(local_issue_id=str(untouched.pk)).exists()


def test_a_copy_that_cannot_be_created_is_that_issues_error_and_retry_creates_it_with_the_latest_values(
    sync: Synchronization, admin: User
) -> None:
    t = timezone.now()
    with mock.patch("jira.services.issue_create", side_effect=FieldErrors(errors={"issuetype": "not here"})):
        services.issue_state_apply(sync=sync, sender=BETA, payload=_from_beta(
            sync, BETA, "81", {"summary": _state("First", t)}, issue_id="81", key="BETA-81"))
    link = IssueLink.objects.get()
    assert link.state == LinkState.ERROR and "BETA-81 could not be created" in link.error and link.issue is None
    services.issue_state_apply(sync=sync, sender=BETA, payload=_from_beta(
        sync, BETA, "81", {"summary": _state("Latest", t + LATER)}, issue_id="81", key="BETA-81"))
    assert not Issue.objects.exists()  # nothing half-made
    link = services.link_retry(link=link)
    copy = Issue.objects.get()
    assert copy.summary == "Latest" and link.state == LinkState.IN_SYNC and link.local_issue_id == str(copy.pk)
    assert IssueLink.objects.count() == 1


@pytest.mark.parametrize("switch", ["issue_sync_active", "issue_sync_installed"])
def test_a_local_edit_is_not_sent_while_the_app_is_switched_off(
        sync: Synchronization, admin: User, switch: str, django_capture_on_commit_callbacks: Any) -> None:
    SiteConfiguration.objects.update_or_create(pk=1, defaults={switch: False})
    with django_capture_on_commit_callbacks(execute=True):
        issue = _create(admin, "Made while off")
        jira.issue_update(actor=admin, origin=Origin.person(admin.pk), issue=issue, fields={"summary": "Edited off"})
    assert _sent(sync) == []
    SiteConfiguration.objects.filter(pk=1).update(**{switch: True})
    with django_capture_on_commit_callbacks(execute=True):
        jira.issue_update(actor=admin, origin=Origin.person(admin.pk), issue=issue, fields={"summary": "Edited on"})
    assert [p["values"]["summary"]["v"] for p in _sent(sync)] == ["Edited on"]


# --- What an edit costs in round trips to the database ----------------------------------------------
# The issue sync benchmark is bound by the machine's CPU, most of it spent on queries; these hold the
# counts that docs/benchmarks.md's numbers were measured with.
PARTNER_KEY = {"partner_key_id": "k", "partner_public_key_pem": "pem"}


def test_an_api_edit_and_its_push_are_22_queries(sync: Synchronization, admin: User, client: Client,
                                                  django_capture_on_commit_callbacks: Any) -> None:
    _, token = jira.api_token_create(user=admin, label="bench")
    rest = RestApi(client, "admin@example.com", token)
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)  # the create; each edit then goes on its own
    for summary in ("Edited", "Edited again"):  # the first also notes when the token was last used
        OutboxMessage.objects.update(state="delivered", attempts=1)
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
            r = rest("put", f"issue/{issue.key}", {"fields": {"summary": summary}})
        assert r.status_code == 204, r.content
    sent = OutboxMessage.objects.filter(synchronization_id=sync.pk).order_by("created_at").last()
    assert sent is not None and sent.state != "delivered"  # the push wrote the edit's message
    # Lockout check, token, the issue found, then locked, written, its changelog; the push: the site's switch,
    # the synchronizations, the link shared, the synchronization, the issue locked, its link, the mappings
    # (with the pause), the stream's counter, merge check, the message, the link. (The scope shows all: an
    # existing issue's project and type need no reading, `_issue_in_own_scope`; the edited field's clock is
    # the edit's own changelog entry, not read again.)
    assert len(queries) <= 22, "\n".join(q["sql"][:120] for q in queries.captured_queries)


def _received(sync: Synchronization, kind: str, payload: dict[str, Any], stream: str, sequence: int) -> Received:
    """A message from beta as the inbox takes it, signature already checked."""
    return Received(Envelope(id=uuid.uuid4(), type=kind, synchronization_id=sync.pk, sequence=sequence, sender=BETA,
                             recipient=ALPHA, created_at=timezone.now(), payload=payload, stream=stream), b"{}")


def _edits_from_beta(sync: Synchronization, first: int, count: int, sequence: int) -> list[Received]:
    return [_received(sync, ISSUE_STATE, _from_beta(sync, BETA, str(n), {
        "summary": _state(f"Edit {n}.{sequence}", timezone.now())}, issue_id=str(n), key=f"BETA-{n}"),
        issue_stream(BETA, str(n)), sequence) for n in range(first, first + count)]


def test_a_partners_edits_applied_together_read_the_synchronizations_decisions_once(sync: Synchronization) -> None:
    results = inbox_apply_many(messages=_edits_from_beta(sync, 100, 10, 1), enabled=True, **PARTNER_KEY)  # copies
    assert {r.status for r in results} == {"applied"}  # type: ignore[union-attr]
    alone, together = _edits_from_beta(sync, 100, 1, 2), _edits_from_beta(sync, 101, 9, 2)
    with CaptureQueriesContext(connection) as one:
        inbox_apply_many(messages=alone, enabled=True, **PARTNER_KEY)
    with CaptureQueriesContext(connection) as nine:
        results = inbox_apply_many(messages=together, enabled=True, **PARTNER_KEY)
    assert {r.status for r in results} == {"applied"}  # type: ignore[union-attr]
    assert sorted(IssueLink.objects.filter(synchronization=sync).values_list("fields__summary__v", flat=True))[:3] == [
        "Edit 100.2", "Edit 101.2", "Edit 102.2"]
    # Alone: 19. Each further message of the request: the issue's link, the issue locked (read once: the
    # edit writes the row it was read as), written, its changelog, the link written, around two savepoints;
    # the synchronization, its mapping (with the pause) and the app's account were read for the first (the
    # scope shows all: nothing to read for an existing issue).
    assert len(one) <= 19, "\n".join(q["sql"][:150] for q in one.captured_queries)
    assert len(nine) - len(one) <= 8 * 9, "\n".join(q["sql"][:120] for q in nine.captured_queries[:40])


def test_an_issues_state_and_its_comments_applied_together_read_the_mapping_once(sync: Synchronization) -> None:
    results = inbox_apply_many(messages=_edits_from_beta(sync, 200, 3, 1), enabled=True, **PARTNER_KEY)  # copies
    assert {r.status for r in results} == {"applied"}  # type: ignore[union-attr]
    t = timezone.now()
    messages = []
    for edit in _edits_from_beta(sync, 200, 3, 2):
        issue_id = edit.envelope.payload["origin_issue_id"]
        comments = {"origin_site": BETA, "origin_issue_id": issue_id,
                    "comments": [_comment_item(f"{issue_id}{n}", f"Note {n}", t) for n in range(2)]}
        messages += [edit, _received(sync, COMMENTS_STATE, comments, issue_stream(BETA, issue_id), 3)]
    with CaptureQueriesContext(connection) as queries:
        results = inbox_apply_many(messages=messages, enabled=True, **PARTNER_KEY)
    assert {r.status for r in results} == {"applied"}  # type: ignore[union-attr]
    assert Comment.objects.count() == 6
    # Issue and comment messages alternate in the request; they share what they read (their kinds' `batch`).
    assert sum('FROM "mappings_mapping"' in q["sql"] for q in queries.captured_queries) == 1


def test_learning_the_copys_key_links_the_issue_reading_it_once(sync: Synchronization, admin: User) -> None:
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    before = Issue.objects.get(pk=issue.pk)
    reply = _from_beta(sync, ALPHA, str(issue.pk), {}, issue_id="901", key="BETA-91")
    with CaptureQueriesContext(connection) as queries:
        assert services.issue_state_apply(sync=sync, sender=BETA, payload=reply) == "applied"
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('SELECT "jira_issue"')]
    assert len(reads) == 1, "\n".join(reads)
    link = IssueLink.objects.get()
    assert (link.partner_key, link.state) == ("BETA-91", LinkState.IN_SYNC)
    assert issue.remote_links.get().title.startswith("BETA-91 (beta.atlassian.net)")
    after = Issue.objects.get(pk=issue.pk)
    assert after.updated > before.updated and after.version == before.version  # linked, not edited
    # The partner's first edit carrying new ids as well: linked again and applied on the row as it is now.
    edit = _from_beta(sync, ALPHA, str(issue.pk), {"summary": _state("Renamed on beta", timezone.now() + LATER)},
                      issue_id="902", key="BETA-92")
    assert services.issue_state_apply(sync=sync, sender=BETA, payload=edit) == "applied"
    after = Issue.objects.get(pk=issue.pk)
    assert after.summary == "Renamed on beta" and after.version == before.version + 1
    assert issue.remote_links.get().title.startswith("BETA-92")


def test_a_copy_is_created_with_its_fields_without_reading_it_back(sync: Synchronization, admin: User) -> None:
    services.app_user()  # made once per site
    _create(admin)  # not the project's first issue
    (message,) = _edits_from_beta(sync, 700, 1, 1)
    with CaptureQueriesContext(connection) as queries:
        (result,) = inbox_apply_many(messages=[message], enabled=True, **PARTNER_KEY)
    assert result.status == "applied"  # type: ignore[union-attr]
    copy = Issue.objects.get(pk=IssueLink.objects.get(origin_issue_id="700").local_issue_id)
    assert (copy.summary, copy.version) == ("Edit 700.1", 1) and copy.remote_links.get().title.startswith("BETA-700")
    # The row this transaction inserted is its own: the fields and the remote link are written on it as made.
    sqls = [q["sql"] for q in queries.captured_queries]
    assert not any(q.startswith('SELECT "jira_issue"') for q in sqls), "\n".join(sqls)
    # The project's issue counter: locked and moved, two statements once it exists.
    assert sum('"jira_issuecounter"' in q for q in sqls) == 2


def test_a_partners_comment_is_copied_within_the_inboxs_savepoint_for_it(sync: Synchronization, admin: User) -> None:
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    services.app_user()  # made once per site
    payload = {"origin_site": ALPHA, "origin_issue_id": str(issue.pk), "comment_site": BETA, "comment_id": "5",
               "author": "Bea", "clock": clock_at(timezone.now(), BETA), "deleted": False,
               "body": {"type": "doc", "version": 1, "content": []}}
    message = _received(sync, COMMENT_STATE, payload, issue_stream(ALPHA, str(issue.pk)), 1)
    with CaptureQueriesContext(connection) as queries:
        (result,) = inbox_apply_many(messages=[message], enabled=True, **PARTNER_KEY)
    assert result.status == "applied" and Comment.objects.filter(issue=issue).count() == 1  # type: ignore[union-attr]
    # The inbox's savepoints (its request's, here inside the test's transaction, and this message's), none of
    # the copy's own: any error in it rolls back to the message's. Nothing read back that was just written.
    assert sum(q["sql"].startswith("SAVEPOINT") for q in queries.captured_queries) == 2
    assert not any(q["sql"].startswith('SELECT "jira_issue"."id", "jira_issue"."updated"')
                   for q in queries.captured_queries)


def _comment_item(comment_id: str, text: str, moment: datetime.datetime, *, author: str = "Bea",
                  deleted: bool = False) -> dict[str, Any]:
    body = None if deleted else {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": text}]}]}
    return {"comment_site": BETA, "comment_id": comment_id, "author": author, "body": body,
            "clock": clock_at(moment, BETA), "deleted": deleted}


def _validated(sync: Synchronization, kind: str, payload: dict[str, Any], stream: str, sequence: int) -> Received:
    """A message from beta as the inbox takes it, its envelope and payload validated as the wire does."""
    data = {"id": str(uuid.uuid4()), "type": kind, "synchronization_id": str(sync.pk), "stream": stream,
            "sequence": sequence, "sender": BETA, "recipient": ALPHA, "created_at": timezone.now().isoformat(),
            "payload": payload}
    return Received(envelope_from(json.loads(json.dumps(data))), b"{}")


def test_an_issues_comments_sent_together_are_copied_once_in_order_under_one_lock(
    sync: Synchronization, admin: User
) -> None:
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    services.app_user()  # made once per site
    t = timezone.now()
    head = {"origin_site": ALPHA, "origin_issue_id": str(issue.pk)}
    stream = issue_stream(ALPHA, str(issue.pk))
    payload = {**head, "comments": [_comment_item(str(n), f"Note {n}", t, author=f"Bea {n}") for n in (7, 5, 9)]}
    message = _validated(sync, COMMENTS_STATE, payload, stream, 1)
    with CaptureQueriesContext(connection) as queries:
        (result,) = inbox_apply_many(messages=[message], enabled=True, **PARTNER_KEY)
    assert result.status == "applied"  # type: ignore[union-attr]
    copies = list(Comment.objects.filter(issue=issue).order_by("created", "pk"))
    assert [json.dumps(c.body).count(f"Note {n}") for c, n in zip(copies, (7, 5, 9), strict=True)] == [1, 1, 1]
    assert all(f"Bea {n} wrote on beta.atlassian.net" in json.dumps(c.body)
               for c, n in zip(copies, (7, 5, 9), strict=True))
    assert {c.author.username for c in copies if c.author} == {services.APP_USERNAME}
    assert dict(CommentLink.objects.values_list("origin_comment_id", "comment_id")) == {
        "7": copies[0].pk, "5": copies[1].pk, "9": copies[2].pk}
    # Three comments, one lock of the issue and one insert of the copies (the first sync's whole point).
    sqls = [q["sql"] for q in queries.captured_queries]
    assert sum(q.startswith('SELECT "jira_issue"') and "FOR UPDATE" in q for q in sqls) == 1, "\n".join(sqls)
    assert sum(q.startswith('INSERT INTO "jira_comment"') for q in sqls) == 1

    # Delivered again: nothing new. Then an edit, a deletion and a late older version in one message.
    assert services.comments_state_apply(sync=sync, sender=BETA, payload=payload) == "absorbed"
    assert Comment.objects.filter(issue=issue).count() == 3
    later = {**head, "comments": [_comment_item("7", "Note 7, fixed", t + LATER),
                                  _comment_item("5", "", t + LATER, deleted=True),
                                  _comment_item("9", "Note 9, older", t - LATER),
                                  _comment_item("5", "Note 5 again", t + 2 * LATER)]}
    assert services.comments_state_apply(sync=sync, sender=BETA, payload=later) == "applied"
    assert [("fixed" in json.dumps(c.body), "older" in json.dumps(c.body))
            for c in Comment.objects.filter(issue=issue).order_by("pk")] == [(True, False), (False, False)]
    assert CommentLink.objects.get(origin_comment_id="5").deleted  # an edit after the delete: stays deleted
    # A third site's comment is never taken from this partner.
    other = {**head, "comments": [{**_comment_item("11", "Not theirs", t), "comment_site": "https://gamma.net"}]}
    assert services.comments_state_apply(sync=sync, sender=BETA, payload=other) == "absorbed"
    assert Comment.objects.filter(issue=issue).count() == 2


def test_comments_sent_together_are_refused_by_the_wire_when_malformed(sync: Synchronization) -> None:
    head = {"origin_site": ALPHA, "origin_issue_id": "1"}
    for bad in ([], [{"comment_id": "1"}], [_comment_item("1", "x", timezone.now())] * 51):
        with pytest.raises(MalformedMessage):
            _validated(sync, COMMENTS_STATE, {**head, "comments": bad}, issue_stream(ALPHA, "1"), 1)


def test_a_body_the_site_refuses_is_that_issues_error_and_the_other_comments_are_still_copied(
    sync: Synchronization, admin: User
) -> None:
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    t = timezone.now()
    bad = {**_comment_item("2", "", t), "body": {"type": "doc", "version": 1, "content": [{"type": "nonsense"}]}}
    payload = {"origin_site": ALPHA, "origin_issue_id": str(issue.pk),
               "comments": [_comment_item("1", "Fine", t), bad, _comment_item("3", "Also fine", t)]}
    assert services.comments_state_apply(sync=sync, sender=BETA, payload=payload) == "applied"
    assert ["Fine" in json.dumps(c.body) for c in Comment.objects.filter(issue=issue).order_by("pk")] == [True, False]
    assert sorted(CommentLink.objects.values_list("origin_comment_id", flat=True)) == ["1", "3"]
    link = IssueLink.objects.get()
    assert link.state == LinkState.ERROR and "could not be written" in link.error


@override_settings(INBOUND_MAX_BODY_BYTES=9000)
def test_an_issues_comments_go_in_as_few_messages_as_the_size_cap_allows(sync: Synchronization,
                                                                          admin: User) -> None:
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    link = IssueLink.objects.get()
    comments = [jira.comment_add(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk, body=text)
                for text in ["a" * 1800, "b" * 1800, "c" * 8000, "d" * 1800, "e" * 10, "f" * 1800]]
    with transaction.atomic():
        assert services.comments_send(sync=sync, link=link, comments=comments) == 5
    sent = _sent(sync, COMMENTS_STATE)
    # The cap leaves room for about three of the 1,800-character ones; the 8,000 one fits in no message.
    assert [[c["body"]["content"][0]["content"][0]["text"][0] for c in p["comments"]] for p in sent] == [
        ["a", "b", "d", "e"], ["f"]]
    assert all(len(json.dumps(p)) < 9000 - 2048 for p in sent)
    link.refresh_from_db()
    assert link.state == LinkState.ERROR and f"A comment ({comments[2].pk}) is too large" in link.error
    assert CommentLink.objects.filter(link=link).count() == 5


@contextmanager
def _held_elsewhere(hold: Callable[[], Any]) -> Iterator[None]:
    """`hold()` runs in another thread's transaction, which stays open (its locks held) for the block."""
    held, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def other() -> None:
        try:
            with transaction.atomic():
                hold()
                held.set()
                release.wait(10)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            connection.close()

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert held.wait(10)
        yield
    finally:
        release.set()
        thread.join(30)
    assert errors == []


@contextmanager
def _waiting_at_most(timeout: str) -> Iterator[None]:
    """A transaction whose lock waits give up after `timeout` (PostgreSQL: 'lock timeout')."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{timeout}'")
        yield


@pytest.mark.django_db(transaction=True)
def test_pushes_of_two_issues_go_side_by_side_while_whatever_locks_the_link_waits_for_them(
    sync: Synchronization, admin: User
) -> None:
    one, two = _create(admin, "One"), _create(admin, "Two")
    # The first push holds the link (shared) and its issue until it commits.
    with _held_elsewhere(lambda: services.issue_push(issue=one.pk, synchronization=sync)):
        with _waiting_at_most("5s"):
            # Did not wait (unchanged: each issue's create was pushed as it was made)
            assert services.issue_push(issue=two.pk, synchronization=sync) == "unchanged"
        # The inbox, an admin's action, a mapping change, a pause: they wait until the push commits.
        with pytest.raises(OperationalError, match="lock timeout"), _waiting_at_most("200ms"):
            synchronization_locked(sync.pk)
    assert sorted(p["key"] for p in _sent(sync)) == sorted([one.key, two.key])


@pytest.mark.django_db(transaction=True)
def test_a_partners_requests_for_different_issues_apply_side_by_side_and_a_lifecycle_one_waits(
    sync: Synchronization
) -> None:
    # Another request of issue messages, holding the link as the inbox does.
    with _held_elsewhere(lambda: links_locked([sync.pk], shared=True)):
        with _waiting_at_most("5s"):
            results = inbox_apply_many(messages=_edits_from_beta(sync, 200, 3, 1), enabled=True, **PARTNER_KEY)
        assert [r.status for r in results] == ["applied"] * 3  # type: ignore[union-attr]
        lifecycle = _edits_from_beta(sync, 300, 1, 1)[0]  # the same kind on the lifecycle stream: not concurrent
        lifecycle = Received(dataclasses.replace(lifecycle.envelope, stream=""), lifecycle.body)
        with pytest.raises(OperationalError, match="lock timeout"), _waiting_at_most("200ms"):
            inbox_apply_many(messages=[lifecycle], enabled=True, **PARTNER_KEY)
    assert IssueLink.objects.filter(synchronization=sync).count() == 3
