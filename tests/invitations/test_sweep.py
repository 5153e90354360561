"""The sweep rings again only for messages whose own doorbell cannot still be on its way."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from kombu import Connection

from invitations.models import DeliveryState, OutboxMessage
from invitations.tasks import sweep_outbox
from issuesync.celery import app
from tests.factories import BETA, GAMMA

pytestmark = pytest.mark.django_db
GRACE = 5.0


@pytest.fixture
def ring() -> Iterator[Any]:
    with override_settings(DELIVERY_SWEEP_GRACE_SECONDS=GRACE), \
            mock.patch("invitations.tasks.deliver_message.delay") as delay:
        yield delay


def _message(*, due_for: float, state: str = DeliveryState.PENDING, claimed_until: Any = None,
             recipient: str = BETA) -> OutboxMessage:
    now = timezone.now()
    return OutboxMessage.objects.create(
        synchronization_id=uuid.uuid4(), sequence=1, message_type="delete", recipient=recipient, body=b"{}",
        state=state, next_attempt_at=now - timedelta(seconds=due_for), claimed_until=claimed_until,
        give_up_at=now + timedelta(days=1), created_at=now,
    )


def _rung(ring: Any) -> set[str]:
    return {c.args[0] for c in ring.call_args_list}


def test_a_message_due_for_less_than_the_grace_is_left_to_its_own_doorbell(ring: Any) -> None:
    _message(due_for=0)
    _message(due_for=GRACE - 1)
    assert sweep_outbox() == 0
    ring.assert_not_called()


def test_a_message_overdue_by_more_than_the_grace_is_rung_again(ring: Any) -> None:
    lost = _message(due_for=GRACE + 1)
    _message(due_for=-30)  # a retry not due yet
    assert sweep_outbox() == 1
    assert _rung(ring) == {str(lost.pk)}


def test_a_partners_backlog_gets_one_doorbell_per_batch_up_to_a_few(ring: Any) -> None:
    # One doorbell sends every due message of its partner, batch after batch: ringing one per message
    # would queue a task for each that finds its message already sent.
    with override_settings(DELIVERY_BATCH_SIZE=10, DELIVERY_SWEEP_DOORBELLS_PER_PARTNER=3):
        backlog = [_message(due_for=GRACE + 100 - i) for i in range(45)]
        small = [_message(due_for=GRACE + 50 - i, recipient=GAMMA) for i in range(12)]
        assert sweep_outbox() == 5
    # The heads of the first batches, oldest first: 3 for beta's 45 messages, 2 for gamma's 12.
    assert _rung(ring) == {str(m.pk) for m in [backlog[0], backlog[10], backlog[20], small[0], small[10]]}
    # Each rung as its partner's doorbell, which claims what is due for the partner.
    assert sorted(c.args[1] for c in ring.call_args_list) == [BETA] * 3 + [GAMMA] * 2


def test_a_claim_whose_lease_expired_is_rung_at_once(ring: Any) -> None:
    now = timezone.now()
    expired = _message(due_for=0, state=DeliveryState.DELIVERING, claimed_until=now - timedelta(seconds=1))
    _message(due_for=0, state=DeliveryState.DELIVERING, claimed_until=now + timedelta(seconds=60))
    assert sweep_outbox() == 1
    assert _rung(ring) == {str(expired.pk)}


def test_delivered_and_failed_messages_are_never_rung(ring: Any) -> None:
    _message(due_for=GRACE * 10, state=DeliveryState.DELIVERED)
    _message(due_for=GRACE * 10, state=DeliveryState.FAILED)
    assert sweep_outbox() == 0


def test_a_sweep_left_waiting_in_the_queue_longer_than_the_grace_is_dropped() -> None:
    app.loader.import_default_modules()
    entry = app.conf.beat_schedule["sweep outbox"]
    assert entry["task"] == "invitations.tasks.sweep_outbox"
    assert entry["options"]["expires"] == settings.DELIVERY_SWEEP_GRACE_SECONDS
    assert settings.DELIVERY_SWEEP_GRACE_SECONDS >= settings.DELIVERY_SWEEP_INTERVAL_SECONDS


def test_the_embedded_broker_polls_ten_times_a_second(tmp_path: Any) -> None:
    with Connection(f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}") as conn:
        assert conn.transport.polling_interval == 0.1


def test_it_sweeps_when_a_worker_starts_and_again_as_the_last_claim_runs_out() -> None:
    from invitations import tasks

    _message(due_for=0, state=DeliveryState.DELIVERING, claimed_until=timezone.now() + timedelta(seconds=4))
    _message(due_for=0, state=DeliveryState.DELIVERING, claimed_until=timezone.now() + timedelta(seconds=2))
    with mock.patch.object(tasks.sweep_outbox, "apply_async") as sweep, \
            mock.patch.object(tasks.prefetch_partners, "apply_async") as prefetch:
        tasks.sweep_on_start()
    assert prefetch.call_count == 1
    now, later = sweep.call_args_list
    assert now == mock.call()
    assert 3.5 < later.kwargs["countdown"] <= 4 + tasks.CLAIM_EXPIRY_MARGIN_SECONDS


def test_a_worker_starting_with_no_claim_running_sweeps_once() -> None:
    from invitations import tasks

    _message(due_for=0, state=DeliveryState.DELIVERING, claimed_until=timezone.now() - timedelta(seconds=1))
    with mock.patch.object(tasks.sweep_outbox, "apply_async") as sweep, \
            mock.patch.object(tasks.prefetch_partners, "apply_async"):
        tasks.sweep_on_start()
    assert sweep.call_args_list == [mock.call()]
