"""After an outage every message waits for its own backoff; a due one takes the earlier ones of its
synchronization along, in order, so the partner never answers "waiting for message #N first"."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.test import override_settings
from django.utils import timezone

from invitations import transport
from invitations.delivery import outbox_deliver
from invitations.messages import BATCH_PATH
from invitations.models import DeliveryState, OutboxMessage
from tests.factories import synchronization
from tests.invitations.test_delivery import _outbox


@pytest.mark.django_db
def test_a_due_message_takes_the_earlier_pending_ones_of_its_synchronization_along_in_order() -> None:
    sync, other = synchronization(), synchronization()
    first, second, third = (_outbox(sync, sequence=n) for n in (1, 2, 3))
    unrelated = _outbox(other, sequence=1)
    later = timezone.now() + timedelta(minutes=5)
    OutboxMessage.objects.filter(pk__in=[first.pk, second.pk, unrelated.pk]).update(next_attempt_at=later)
    sent: list[Any] = []

    def answer(method: str, recipient: str, path: str, *, body: bytes, headers: dict[str, str]) -> transport.Response:
        sent.append((path, [m["sequence"] for m in json.loads(body)["messages"]]))
        return transport.Response(200, json.dumps({"results": [{"code": 200, "status": "applied"}] * 3}).encode())

    with mock.patch.object(transport, "request", side_effect=answer):
        assert outbox_deliver(outbox_id=third.pk) == {}
    assert sent == [(BATCH_PATH, [1, 2, 3])]
    states = dict(OutboxMessage.objects.values_list("pk", "state"))
    assert states[first.pk] == states[second.pk] == states[third.pk] == DeliveryState.DELIVERED
    assert states[unrelated.pk] == DeliveryState.PENDING  # another synchronization's backoff is its own


@pytest.mark.django_db
def test_a_synchronization_whose_earlier_message_is_in_flight_waits_and_is_rung_after_it() -> None:
    sync = synchronization()
    first, second = _outbox(sync, sequence=1), _outbox(sync, sequence=2)
    OutboxMessage.objects.filter(pk=first.pk).update(state=DeliveryState.DELIVERING, claim=uuid.uuid4(),
                                                     claimed_until=timezone.now() + timedelta(minutes=1))
    with mock.patch.object(transport, "request") as send:
        assert outbox_deliver(outbox_id=second.pk) == {}
    send.assert_not_called()
    assert OutboxMessage.objects.get(pk=second.pk).attempts == 0  # not claimed: nothing counted against it
    # The other worker's lease ends and #1 goes (alone: one message a request); #2, due and waiting behind
    # it, is rung right after, without waiting for the sweep.
    OutboxMessage.objects.filter(pk=first.pk).update(state=DeliveryState.PENDING, claim=None, claimed_until=None)
    with override_settings(DELIVERY_BATCH_SIZE=1), \
            mock.patch.object(transport, "request", return_value=transport.Response(200, b"{}")):
        assert outbox_deliver(outbox_id=first.pk) == {second.pk: 0.0}
    assert OutboxMessage.objects.get(pk=first.pk).state == DeliveryState.DELIVERED
