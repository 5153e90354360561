"""Changes whose push after commit never ran (the process stopped after the commit) are sent by the sweep.

In these tests nothing commits, so no after-commit push runs: each change is one a push missed.
"""
from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from invitations.models import DeliveryState, OutboxMessage
from jira import services as jira
from jira.models import SiteConfiguration
from jira.signals import Origin
from replication import services
from replication.models import ChangesSwept
from replication.wire import COMMENT_STATE
from synchronizations.models import Synchronization
from tests.replication.test_services import (  # noqa: F401  (fixtures)
    ALPHA,
    BETA,
    LATER,
    _create,
    _from_beta,
    _mapping,
    _sent,
    _state,
    admin,
    sync,
)

pytestmark = pytest.mark.django_db


def _values(sync: Synchronization) -> list[dict[str, Any]]:  # noqa: F811
    return [{k: v["v"] for k, v in p["values"].items()} for p in _sent(sync)]


def test_a_new_issue_and_an_edit_whose_push_never_ran_are_sent_once(sync: Synchronization, admin: User) -> None:  # noqa: F811
    issue = _create(admin, summary="Lost create")
    assert _sent(sync) == []
    assert services.missed_changes_push() == 1
    assert [v["summary"] for v in _values(sync)] == ["Lost create"]
    assert services.missed_changes_push() == 0  # state based: what went already is unchanged
    jira.issue_update(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk, fields={"summary": "Lost edit"})
    assert services.missed_changes_push() == 1
    # Still unsent here, the first message takes the edit (as any later change would).
    assert [v["summary"] for v in _values(sync)] == ["Lost edit"]
    assert services.missed_changes_push() == 0
    assert len(_sent(sync)) == 1


def test_a_partners_change_is_not_taken_for_a_local_one(sync: Synchronization, admin: User) -> None:  # noqa: F811
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    services.missed_changes_push()
    type(issue).objects.filter(pk=issue.pk).update(created=timezone.now() - datetime.timedelta(hours=1))
    services.issue_state_apply(sync=sync, sender=BETA, payload=_from_beta(
        sync, ALPHA, str(issue.pk), {"summary": _state("Edited on beta", timezone.now() + LATER)}))
    app = User.objects.get(username=services.APP_USERNAME)
    assert not services._changed_here_since(type(issue).objects.all(), timezone.now() - LATER, app.pk).exists()
    assert services.missed_changes_push() == 0 and len(_sent(sync)) == 1


def test_changes_made_before_the_mapping_last_changed_are_left_to_what_that_change_did(
        sync: Synchronization, admin: User) -> None:  # noqa: F811
    issue = _create(admin, summary="Made before the mapping changed")
    jira.comment_add(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk, body="So was this", plain_text=True)
    mapping = _mapping(sync)
    mapping.updated_at = timezone.now() + datetime.timedelta(milliseconds=1)
    mapping.save(update_fields=["updated_at"])
    # Touched since by no one here (as the partner's remote link does): still not this sweep's to send.
    type(issue).objects.filter(pk=issue.pk).update(updated=timezone.now() + LATER)
    assert services.missed_changes_push() == 0 and _sent(sync) == [] and _sent(sync, COMMENT_STATE) == []


def test_a_comment_whose_push_never_ran_is_sent_once(sync: Synchronization, admin: User) -> None:  # noqa: F811
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    services.missed_changes_push()
    comment = jira.comment_add(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk, body="Lost note",
                               plain_text=True)
    services.missed_changes_push()
    (sent,) = _sent(sync, COMMENT_STATE)
    assert sent["comment_id"] == str(comment.pk)
    services.missed_changes_push()
    jira.comment_update(actor=admin, origin=Origin.person(admin.pk), comment=comment, body="Lost edit of it",
                        plain_text=True)
    services.missed_changes_push()
    services.missed_changes_push()
    assert len(_sent(sync, COMMENT_STATE)) == 2


def test_the_sweep_looks_from_where_the_last_one_started_less_the_margin(sync: Synchronization, admin: User) -> None:  # noqa: F811
    _create(admin, summary="Old")
    later = timezone.now() + services.MISSED_MARGIN + datetime.timedelta(seconds=5)
    assert services.missed_changes_push(now=later) == 1  # the first sweep looks back MISSED_FIRST_WINDOW
    assert ChangesSwept.objects.get().started_at == later
    issue = _create(admin, summary="Missed, long before the next sweep's window")
    ChangesSwept.objects.update(started_at=later + services.MISSED_MARGIN + datetime.timedelta(seconds=5))
    assert services.missed_changes_push() == 0
    assert [v["summary"] for v in _values(sync)] == ["Old"]
    jira.issue_update(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk, fields={"summary": "Now"})
    ChangesSwept.objects.update(started_at=timezone.now())
    assert services.missed_changes_push() == 1  # within the margin


def test_a_sweep_that_stops_halfway_is_taken_up_from_the_same_point(
        sync: Synchronization, admin: User, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    services.missed_changes_push()
    mark = ChangesSwept.objects.get().started_at
    _create(admin, summary="Missed")

    def stopped(**kwargs: Any) -> str:
        raise RuntimeError("the worker stopped")

    monkeypatch.setattr(services, "issue_push", stopped)
    with pytest.raises(RuntimeError):
        services.missed_changes_push()
    assert ChangesSwept.objects.get().started_at == mark
    monkeypatch.undo()
    assert services.missed_changes_push() == 1


def test_nothing_is_sent_while_issue_sync_is_switched_off(sync: Synchronization, admin: User) -> None:  # noqa: F811
    config = SiteConfiguration.load()
    config.issue_sync_active = False
    config.save()
    _create(admin)
    assert services.missed_changes_push() == 0 and _sent(sync) == []


def test_the_beat_sweeps_for_missed_changes_every_half_minute() -> None:  # noqa: F811
    from django.conf import settings

    from issuesync.celery import app

    app.loader.import_default_modules()
    assert "replication.tasks.missed_changes_sweep" in app.tasks  # (reading the tasks finalizes the app)
    entry = app.conf.beat_schedule["sweep issue changes not sent"]
    assert entry["task"] == "replication.tasks.missed_changes_sweep"
    assert entry["schedule"] == settings.MISSED_CHANGES_SWEEP_INTERVAL_SECONDS == 30


def test_an_issue_whose_push_ran_is_not_pushed_again(
        sync: Synchronization, admin: User, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    pushed: list[int] = []
    push = services.issue_push

    def counted(**kwargs: Any) -> str:
        pushed.append(kwargs["issue"])
        return push(**kwargs)

    monkeypatch.setattr(services, "issue_push", counted)
    ran, lost = _create(admin, summary="Pushed"), _create(admin, summary="Not pushed")
    services.issue_push(issue=ran.pk, synchronization=sync)  # as after its commit: its message is written
    pushed.clear()
    assert services.missed_changes_push() == 1
    assert pushed == [lost.pk]
    pushed.clear()
    services.missed_changes_push()
    assert pushed == []


def test_a_deletion_whose_push_never_ran_is_told_once(sync: Synchronization, admin: User) -> None:  # noqa: F811
    issue, kept = _create(admin, summary="Deleted"), _create(admin, summary="Kept")
    for made in (issue, kept):
        services.issue_push(issue=made.pk, synchronization=sync)
    comment = jira.comment_add(actor=admin, origin=Origin.person(admin.pk), issue=kept.pk, body="Withdrawn",
                               plain_text=True)
    services.missed_changes_push()
    assert len(_sent(sync, COMMENT_STATE)) == 1
    jira.comment_delete(actor=admin, origin=Origin.person(admin.pk), comment=comment)
    jira.issue_delete(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk)
    services.missed_changes_push()
    told = [p for p in _sent(sync) if p["source_deleted"]]
    assert [p["origin_issue_id"] for p in told] == [str(issue.pk)]
    deletions = [p for p in _sent(sync, COMMENT_STATE) if p["deleted"]]
    assert [p["comment_id"] for p in deletions] == [str(comment.pk)]
    services.missed_changes_push()
    assert len([p for p in _sent(sync) if p["source_deleted"]]) == 1
    assert len([p for p in _sent(sync, COMMENT_STATE) if p["deleted"]]) == 1


def test_a_comment_that_went_is_not_sent_again_when_its_issue_is_swept_for_another_change(  # noqa: F811
        sync: Synchronization, admin: User) -> None:  # noqa: F811
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    jira.comment_add(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk, body="Said once", plain_text=True)
    services.missed_changes_push()
    jira.issue_update(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk, fields={"summary": "Then edited"})
    assert services.missed_changes_push() == 1
    assert len(_sent(sync, COMMENT_STATE)) == 1


def test_a_comment_is_sent_even_when_an_issue_push_went_after_it(sync: Synchronization, admin: User) -> None:  # noqa: F811
    """An issue's push carries its fields, not its comments: a comment whose push never ran is still sent when a
    push of the issue wrote a message after it (as one that waited on the comment's lock, then ran; found live)."""
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    services.missed_changes_push()
    OutboxMessage.objects.update(state=DeliveryState.DELIVERED, attempts=1)  # gone: a later push writes anew
    comment = jira.comment_add(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk, body="Lost while pushed",
                               plain_text=True)
    jira.issue_update(actor=admin, origin=Origin.person(admin.pk), issue=issue.pk, fields={"summary": "Pushed"})
    services.issue_push(issue=issue.pk, synchronization=sync)  # after both: its message is the stream's newest
    assert services.missed_changes_push() == 0  # the issue's fields went
    assert [p["comment_id"] for p in _sent(sync, COMMENT_STATE)] == [str(comment.pk)]
