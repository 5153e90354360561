"""Synchronize existing issues on one site (alpha): dry run counts, chunked progress, pause / cancel,
backpressure, one run per mapping, the sweep; the partner's side is in test_live_first_sync."""
from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from invitations.models import OutboxMessage
from jira import services as jira
from jira.models import Comment, Issue
from jira.signals import Origin
from mappings.models import Mapping
from replication import connect, runs, services
from replication.models import CommentLink, IssueLink, LinkState, RunState, SyncRun
from replication.runs import RunRefused
from replication.wire import COMMENTS_STATE, ISSUE_CONNECT, ISSUE_CONNECTED, ISSUE_STATE
from synchronizations.models import Synchronization
from tests.factories import GAMMA, synchronization
from tests.replication.test_services import ALPHA, BETA, _create, admin, sync  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def existing(sync: Synchronization, admin: User) -> dict[str, Issue]:  # noqa: F811
    """Issues that existed before the mapping was enabled: three to copy (two with comments), one the
    filter leaves out, one linked already."""
    issues = {name: _create(admin, f"Existing {name}") for name in ("a", "b", "c")}
    for n, name in enumerate(("a", "b")):
        for i in range(n + 1):
            jira.comment_add(actor=admin, origin=Origin.person(admin.pk), issue=issues[name].pk, body=f"Note {i}")
    issues["private"] = _create(admin, "Private", labels=["private"])
    issues["linked"] = _create(admin, "Linked already")
    assert services.issue_push(issue=issues["linked"].pk, synchronization=sync) == "sent"
    return issues


def _mapping(sync: Synchronization) -> Mapping:  # noqa: F811
    return Mapping.objects.get(synchronization=sync)


def _payloads(sync: Synchronization, kind: str) -> list[dict[str, Any]]:  # noqa: F811
    rows = OutboxMessage.objects.filter(synchronization_id=sync.pk, message_type=kind).order_by("created_at")
    return [json.loads(bytes(r.body))["payload"] for r in rows]


def _start(sync: Synchronization, *, mode: str = "create_missing", dry_run: bool = False) -> SyncRun:  # noqa: F811
    return runs.run_start(synchronization=sync, mapping_id=_mapping(sync).pk, mode=mode, dry_run=dry_run)


def _drive(run: SyncRun, *, steps: int = 100) -> SyncRun:
    """Step the run to its end, the partner taking every message as soon as the run waits for it."""
    for _ in range(steps):
        run.refresh_from_db()
        wait = runs.run_step(run_id=run.pk, ticket=run.ticket)
        if wait is None:
            run.refresh_from_db()
            return run
        if wait:
            OutboxMessage.objects.update(state="delivered")
    raise AssertionError("the run did not end")


def test_a_dry_run_counts_what_would_happen_and_sends_nothing(
    sync: Synchronization, existing: dict[str, Issue]  # noqa: F811
) -> None:
    before = OutboxMessage.objects.count()
    run = _drive(_start(sync, dry_run=True))
    assert run.state == RunState.DONE and run.dry_run
    assert (run.total, run.done, run.created, run.updated, run.skipped, run.failed) == (5, 5, 3, 0, 2, 0)
    assert run.comments == 3
    assert run.reasons == {runs.SKIP_LINKED: 1, runs.SKIP_NOT_MATCHING: 1}
    assert run.samples["created"] == [existing[n].key for n in ("a", "b", "c")]
    assert sorted(run.samples["skipped"]) == sorted([existing["private"].key, existing["linked"].key])
    assert OutboxMessage.objects.count() == before
    assert IssueLink.objects.filter(synchronization=sync).count() == 1


def test_create_missing_sends_each_issue_then_its_comments_and_twice_creates_nothing(
    sync: Synchronization, existing: dict[str, Issue]  # noqa: F811
) -> None:
    dry = _drive(_start(sync, dry_run=True))
    before = len(_payloads(sync, ISSUE_STATE))
    run = _drive(_start(sync))
    assert run.state == RunState.DONE and run.finished_at is not None
    assert (run.created, run.skipped, run.failed, run.comments) == (dry.created, dry.skipped, 0, dry.comments)
    sent = _payloads(sync, ISSUE_STATE)[before:]
    assert [p["key"] for p in sent] == [existing[n].key for n in ("a", "b", "c")]
    assert all(p["values"]["summary"]["v"].startswith("Existing") for p in sent)
    # An issue's comments travel together, in their order, in one message after the issue itself on its
    # stream: the partner has the copy first.
    comments = _payloads(sync, COMMENTS_STATE)
    assert sorted((p["origin_issue_id"], len(p["comments"])) for p in comments) == sorted(
        [(str(existing["a"].pk), 1), (str(existing["b"].pk), 2)])
    for issue in (existing["a"], existing["b"]):
        rows = list(OutboxMessage.objects.filter(stream__endswith=f"/{issue.pk}").order_by("sequence")
                    .values_list("message_type", flat=True))
        assert rows == [ISSUE_STATE, COMMENTS_STATE]
        (bundle,) = [p for p in comments if p["origin_issue_id"] == str(issue.pk)]
        assert [c["comment_id"] for c in bundle["comments"]] == [
            str(pk) for pk in Comment.objects.filter(issue=issue).order_by("pk").values_list("pk", flat=True)]
    assert CommentLink.objects.count() == 3
    messages = OutboxMessage.objects.count()
    again = _drive(_start(sync))
    assert (again.created, again.skipped) == (0, 5)
    assert again.reasons == {runs.SKIP_LINKED: 4, runs.SKIP_NOT_MATCHING: 1}
    assert OutboxMessage.objects.count() == messages


def test_it_goes_a_chunk_at_a_time_and_cancel_stops_between_two_chunks_with_every_comment_sent(
    sync: Synchronization, existing: dict[str, Issue], monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    monkeypatch.setattr(runs, "CHUNK_SIZE", 2)
    run = _start(sync)
    assert runs.run_step(run_id=run.pk, ticket=run.ticket) == 0
    run.refresh_from_db()
    assert (run.done, run.cursor, run.created) == (2, existing["b"].pk, 2)
    assert runs.run_row(run)["percent"] == 40
    # The first chunk went whole: both issues, and all three of their comments.
    assert {p["key"] for p in _payloads(sync, ISSUE_STATE)} == {existing[n].key for n in ("a", "b", "linked")}
    assert sum(len(p["comments"]) for p in _payloads(sync, COMMENTS_STATE)) == 3
    runs.run_cancel(run=run)
    messages = OutboxMessage.objects.count()
    assert runs.run_step(run_id=run.pk, ticket=run.ticket) is None
    run.refresh_from_db()
    assert run.state == RunState.CANCELLED and run.done == 2
    assert OutboxMessage.objects.count() == messages
    assert not IssueLink.objects.filter(local_issue_id=str(existing["c"].pk)).exists()
    with pytest.raises(RunRefused):
        runs.run_resume(run=run)


def test_pause_stops_the_chain_and_resume_goes_on_from_the_cursor(
    sync: Synchronization, existing: dict[str, Issue], monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    monkeypatch.setattr(runs, "CHUNK_SIZE", 2)
    run = _start(sync)
    runs.run_step(run_id=run.pk, ticket=run.ticket)
    old_ticket = run.ticket
    runs.run_pause(run=run)
    assert runs.run_step(run_id=run.pk, ticket=old_ticket) is None
    run = runs.run_resume(run=run)
    assert run.state == RunState.RUNNING and run.ticket != old_ticket
    assert runs.run_step(run_id=run.pk, ticket=old_ticket) is None  # the old chain does not come back
    run = _drive(run)
    assert (run.state, run.done, run.created, run.skipped) == (RunState.DONE, 5, 3, 2)
    assert IssueLink.objects.filter(synchronization=sync).count() == 4


def test_it_waits_while_the_partner_has_more_than_the_bound_to_take(
    sync: Synchronization, existing: dict[str, Issue], monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    monkeypatch.setattr(runs, "BACKLOG_MIN", 1)  # the linked issue's message is still pending, and one more
    _create(User.objects.get(username="admin"), "Another")
    services.issue_push(issue=Issue.objects.latest("pk").pk, synchronization=sync)
    run = _start(sync)
    assert runs.run_step(run_id=run.pk, ticket=run.ticket) == runs.WAIT_SECONDS
    run.refresh_from_db()
    assert run.done == 0 and run.cursor == 0
    assert "Waiting for https://beta.atlassian.net to take the last 1+" in run.note
    OutboxMessage.objects.update(state="delivered")
    assert runs.run_step(run_id=run.pk, ticket=run.ticket) == 0
    run.refresh_from_db()
    assert run.done == 6 and run.note == ""
    # Done only once its own messages are delivered: its counts are what the partner holds.
    monkeypatch.setattr(runs, "BACKLOG_MIN", 300)
    assert runs.run_step(run_id=run.pk, ticket=run.ticket) == runs.WAIT_SECONDS
    run.refresh_from_db()
    assert run.state == RunState.RUNNING and "Delivering the last" in run.note


def test_resynchronize_sends_linked_issues_again_whole_and_never_creates(
    sync: Synchronization, existing: dict[str, Issue]  # noqa: F811
) -> None:
    OutboxMessage.objects.update(state="delivered")  # the partner has the linked issue (else the resend joins it)
    before = len(_payloads(sync, ISSUE_STATE))
    run = _drive(_start(sync, mode="resync"))
    assert (run.updated, run.created, run.skipped) == (1, 0, 4)
    assert run.reasons == {runs.SKIP_NOT_LINKED: 4}
    (payload,) = _payloads(sync, ISSUE_STATE)[before:]
    assert payload["key"] == existing["linked"].key
    assert set(payload["values"]) == {"summary", "description", "priority", "status", "labels"}
    assert IssueLink.objects.filter(synchronization=sync).count() == 1


def test_a_mapping_runs_once_at_a_time_and_bad_requests_are_refused_clearly(
    sync: Synchronization, existing: dict[str, Issue]  # noqa: F811
) -> None:
    run = _start(sync, dry_run=True)
    with pytest.raises(RunRefused, match="already going"):
        _start(sync)
    with pytest.raises(RunRefused, match="Unknown mode"):
        _start(sync, mode="everything")
    with pytest.raises(RunRefused, match="No such mapping"):
        runs.run_start(synchronization=sync, mapping_id="not-a-uuid", mode="create_missing")
    runs.run_cancel(run=run)
    assert _start(sync).state == RunState.RUNNING
    mapping = _mapping(sync)
    mapping.enabled = False
    mapping.save()
    latest = SyncRun.objects.filter(state=RunState.RUNNING).get()
    assert runs.run_step(run_id=latest.pk, ticket=latest.ticket) is None
    latest.refresh_from_db()
    assert latest.state == RunState.FAILED and "disabled" in latest.note


def test_the_sweep_takes_over_a_run_whose_chain_went_silent(
    sync: Synchronization, existing: dict[str, Issue]  # noqa: F811
) -> None:
    run = _start(sync)
    assert runs.runs_sweep() == 0  # alive
    quiet = datetime.timedelta(seconds=runs.STALLED_AFTER_SECONDS)
    SyncRun.objects.filter(pk=run.pk).update(heartbeat=timezone.now() - quiet + datetime.timedelta(seconds=2))
    assert runs.runs_sweep() == 0  # a chain between two steps: still its own
    SyncRun.objects.filter(pk=run.pk).update(heartbeat=timezone.now() - quiet - datetime.timedelta(seconds=1))
    assert runs.runs_sweep() == 1
    old = run.ticket
    run.refresh_from_db()
    assert run.ticket != old
    assert runs.run_step(run_id=run.pk, ticket=old) is None
    assert _drive(run).created == 3


def test_the_api_starts_a_run_shows_its_progress_and_pauses_resumes_cancels(
    client: Client, sync: Synchronization, admin: User, existing: dict[str, Issue]  # noqa: F811
) -> None:
    base = f"/api/synchronizations/{sync.pk}/existing-issues/"
    User.objects.create_user("member", "member@example.com", "pw")
    client.login(username="member", password="pw")
    assert client.get(base).status_code == 403
    client.force_login(admin)
    mapping = str(_mapping(sync).pk)
    assert client.post(base, {"mapping": mapping, "mode": "everything"}, content_type="application/json"
                       ).status_code == 400
    assert client.post(base, {"mapping": "nope"}, content_type="application/json").status_code == 400
    r = client.post(base, {"mapping": mapping, "dry_run": True}, content_type="application/json")
    assert r.status_code == 201, r.content
    row = r.json()
    assert row["dry_run"] is True and row["state"] == "running" and row["total"] == 5
    conflict = client.post(base, {"mapping": mapping}, content_type="application/json")
    assert conflict.status_code == 409 and "already going" in conflict.json()["detail"]
    assert client.post(f"{base}{row['id']}/pause/").json()["state"] == "paused"
    assert client.post(f"{base}{row['id']}/resume/").json()["state"] == "running"
    _drive(SyncRun.objects.get(pk=row["id"]))
    done = client.get(f"{base}{row['id']}/").json()
    assert (done["state"], done["percent"], done["created"], done["skipped"]) == ("done", 100, 3, 2)
    refused = client.post(f"{base}{row['id']}/cancel/")
    assert refused.status_code == 409 and "done already" in refused.json()["detail"]
    assert [r["id"] for r in client.get(base).json()] == [row["id"]]


def test_the_detail_page_offers_a_dry_run_and_shows_the_progress_and_the_summary(
    client: Client, sync: Synchronization, admin: User, existing: dict[str, Issue]  # noqa: F811
) -> None:
    client.force_login(admin)
    page = f"/plugins/servlet/ac/issue-sync/synchronizations/{sync.pk}/"
    html = client.get(page).content.decode()
    assert "Synchronize existing issues" in html and "Dry run" in html and 'value="create_missing"' in html
    start = f"{page}existing-issues/"
    r = client.post(start, {"mapping": str(_mapping(sync).pk), "mode": "create_missing", "dry_run": "1"})
    assert r.status_code == 302 and r["Location"].endswith("#existing-issues")
    html = client.get(page).content.decode()
    assert "<progress" in html and "0 of 5 issues" in html and "Pause" in html and "Cancel" in html
    r = client.post(start, {"mapping": str(_mapping(sync).pk), "mode": "create_missing", "dry_run": "0"}, follow=True)
    assert "already going" in r.content.decode()
    _drive(SyncRun.objects.get())
    html = client.get(page).content.decode()
    assert "Dry run of Create missing: what would happen" in html
    assert '<span data-count="created">3</span>' in html and existing["a"].key in html
    assert "1 already linked" in html and "Earlier runs" in html
    assert client.post(start, {"mapping": "x", "mode": "resync"}, follow=True).status_code == 200


# --- Connect existing -------------------------------------------------------------------------------


def _asks(sync: Synchronization) -> list[dict[str, Any]]:  # noqa: F811
    return _payloads(sync, ISSUE_CONNECT)


def test_connect_existing_asks_the_partner_per_issue_and_links_what_matched(
    sync: Synchronization, existing: dict[str, Issue]  # noqa: F811
) -> None:
    run = runs.run_start(synchronization=sync, mapping_id=_mapping(sync).pk, mode="connect_existing",
                         match_by="summary")
    assert runs.run_step(run_id=run.pk, ticket=run.ticket) == 0
    asks = _asks(sync)
    assert [(a["key"], a["by"], a["value"]) for a in asks] == [
        (existing[n].key, "summary", f"Existing {n}") for n in ("a", "b", "c")]
    OutboxMessage.objects.update(state="delivered")
    run.refresh_from_db()
    assert runs.run_step(run_id=run.pk, ticket=run.ticket) == runs.WAIT_SECONDS  # waits for the answers
    run.refresh_from_db()
    assert run.asked == 3 and "answers: 0 of 3" in run.note
    outcomes = {"a": ("matched", "BETA-1"), "b": ("ambiguous", ""), "c": ("unmatched", "")}
    for name, (outcome, key) in outcomes.items():
        connect.issue_connected_apply(sync=sync, sender=BETA, payload={
            "origin_site": ALPHA, "origin_issue_id": str(existing[name].pk), "mapping_id": str(_mapping(sync).pk),
            "run_id": str(run.pk), "outcome": outcome, "issue_id": "901" if key else "", "key": key,
            "url": f"{BETA}/browse/{key}" if key else "", "detail": "2 issues have this summary" if name == "b" else "",
            "dry_run": False})
    run = _drive(run)
    assert run.state == RunState.DONE
    row = runs.run_row(run)
    assert (row["linked"], row["skipped"], row["created"]) == (1, 4, 0)
    assert row["reasons"] == {runs.SKIP_LINKED: 1, runs.SKIP_NOT_MATCHING: 1,
                              runs.MATCH_REASONS["ambiguous"]: 1, runs.MATCH_REASONS["unmatched"]: 1}
    assert row["matches"]["matched"] == [f"{existing['a'].key} ↔ BETA-1"]
    assert row["matches"]["ambiguous"] == [f"{existing['b'].key} (2 issues have this summary)"]
    link = IssueLink.objects.get(synchronization=sync, local_issue_id=str(existing["a"].pk))
    assert (link.partner_key, link.origin_site, link.state) == ("BETA-1", ALPHA, LinkState.IN_SYNC)
    assert link.fields == {}  # nothing copied: the pair synchronizes from its next change
    assert not IssueLink.objects.filter(local_issue_id__in=[str(existing[n].pk) for n in ("b", "c")]).exists()
    assert not _payloads(sync, ISSUE_STATE)[1:]  # no issue was sent, only the earlier linked one's


def test_connect_existing_needs_what_to_match_by(sync: Synchronization) -> None:  # noqa: F811
    with pytest.raises(RunRefused, match="needs what to match by"):
        runs.run_start(synchronization=sync, mapping_id=_mapping(sync).pk, mode="connect_existing", match_by="")
    with pytest.raises(RunRefused, match="needs what to match by"):
        runs.run_start(synchronization=sync, mapping_id=_mapping(sync).pk, mode="connect_existing",
                       match_by="customfield_99999")


def _ask(sync: Synchronization, value: str, *, by: str = "summary", dry_run: bool = False,  # noqa: F811
         origin_id: str = "77") -> dict[str, Any]:
    return {"origin_site": BETA, "origin_issue_id": origin_id, "mapping_id": str(_mapping(sync).pk),
            "issue_id": origin_id, "key": f"BETA-{origin_id}", "url": f"{BETA}/browse/BETA-{origin_id}",
            "issue_type": "Bug", "by": by, "value": value, "run_id": str(uuid.uuid4()), "dry_run": dry_run}


def test_the_partner_links_its_one_match_and_leaves_ambiguous_ones_alone(
    sync: Synchronization, admin: User  # noqa: F811
) -> None:
    one = _create(admin, "Only one")
    _create(admin, "Twice")
    _create(admin, "Twice")
    assert connect.issue_connect_apply(sync=sync, sender=BETA, payload=_ask(sync, "Only one", dry_run=True)) \
        == "applied"
    assert not IssueLink.objects.exists()  # a dry run links nothing
    connect.issue_connect_apply(sync=sync, sender=BETA, payload=_ask(sync, "Only one"))
    connect.issue_connect_apply(sync=sync, sender=BETA, payload=_ask(sync, "Only one"))  # delivered twice
    connect.issue_connect_apply(sync=sync, sender=BETA, payload=_ask(sync, "Twice", origin_id="78"))
    connect.issue_connect_apply(sync=sync, sender=BETA, payload=_ask(sync, "Nowhere", origin_id="79"))
    connect.issue_connect_apply(sync=sync, sender=BETA, payload=_ask(sync, one.key, by="key", origin_id="80"))
    link = IssueLink.objects.get()
    assert (link.issue_id, link.origin_site, link.origin_issue_id, link.partner_key) == (one.pk, BETA, "77", "BETA-77")
    answers = [(a["origin_issue_id"], a["outcome"], a["key"]) for a in _payloads(sync, ISSUE_CONNECTED)]
    assert answers == [("77", "matched", one.key), ("77", "matched", one.key), ("77", "matched", one.key),
                       ("78", "ambiguous", ""), ("79", "unmatched", ""), ("80", "unmatched", "")]
    # 80 asked by key for an issue linked already (to 77): never linked twice.
    assert "2 issues in ALPHA have this summary" in _payloads(sync, ISSUE_CONNECTED)[3]["detail"]
    assert one.remote_links.filter(url=f"{BETA}/browse/BETA-77").exists()


def test_the_beat_sweeps_runs_often_enough_to_take_a_silent_one_over() -> None:
    from issuesync.celery import RUNS_SWEEP_INTERVAL_SECONDS, app

    app.loader.import_default_modules()
    assert "replication.tasks.sync_run_step" in app.tasks  # (reading the tasks finalizes the app)
    entry = app.conf.beat_schedule["sweep issue sync runs"]
    assert entry["task"] == "replication.tasks.sync_runs_sweep" and entry["task"] in app.tasks
    assert RUNS_SWEEP_INTERVAL_SECONDS < runs.STALLED_AFTER_SECONDS
    # A killed worker's run goes on within seconds, not minutes.
    assert runs.STALLED_AFTER_SECONDS + RUNS_SWEEP_INTERVAL_SECONDS <= 15


def test_the_backlog_it_keeps_follows_the_partners_recent_pace(sync: Synchronization, admin: User) -> None:  # noqa: F811
    assert runs.backlog_bound(sync) == runs.BACKLOG_MIN
    for n in range(40):
        services.issue_push(issue=_create(admin, f"Paced {n}").pk, synchronization=sync)
    OutboxMessage.objects.update(state="delivered", delivered_at=timezone.now())
    assert runs.backlog_bound(sync) == runs.BACKLOG_MIN  # 40 in 5 s: 8 a second, fewer than the floor
    for n in range(400):
        services.issue_push(issue=_create(admin, f"Fast {n}").pk, synchronization=sync)
    OutboxMessage.objects.update(state="delivered", delivered_at=timezone.now())
    assert runs.backlog_bound(sync) == 440 // runs.PACE_WINDOW_SECONDS
    OutboxMessage.objects.update(delivered_at=timezone.now() - datetime.timedelta(minutes=1))
    assert runs.backlog_bound(sync) == runs.BACKLOG_MIN


def test_a_copy_of_another_partners_comment_is_not_sent(
    sync: Synchronization, existing: dict[str, Issue], admin: User  # noqa: F811
) -> None:
    # Issue b is also linked in another synchronization, where its second comment came from that partner.
    other = synchronization(partner_address=GAMMA)
    issue = existing["b"]
    theirs = Comment.objects.filter(issue=issue).order_by("pk").last()
    assert theirs is not None
    link = IssueLink.objects.create(synchronization=other, origin_site=ALPHA, origin_issue_id=str(issue.pk),
                                    issue=issue, local_issue_id=str(issue.pk), local_key=issue.key)
    CommentLink.objects.create(link=link, origin_site=GAMMA, origin_comment_id="77", comment=theirs)
    run = _drive(_start(sync))
    assert run.state == RunState.DONE
    (bundle,) = [p for p in _payloads(sync, COMMENTS_STATE) if p["origin_issue_id"] == str(issue.pk)]
    assert [c["comment_id"] for c in bundle["comments"]] == [
        str(pk) for pk in Comment.objects.filter(issue=issue).exclude(pk=theirs.pk).values_list("pk", flat=True)]
