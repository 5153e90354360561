"""One queued doorbell per partner: a burst of messages rings once, and that doorbell delivers them all.

Against the Redis the tests use (REDIS_URL), with a mark namespace of each test's own.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.db import transaction
from django.test import override_settings

from invitations import outbox
from invitations.models import DeliveryState, OutboxMessage
from invitations.tasks import deliver_message
from tests.factories import BETA
from tests.invitations.test_delivery import _partner

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ring() -> Iterator[Any]:
    with override_settings(CELERY_TASK_DEFAULT_QUEUE=f"doorbells-{uuid.uuid4()}"), \
            mock.patch("invitations.tasks.deliver_message.delay") as delay:
        yield delay


def _link() -> uuid.UUID:
    link_id = uuid.uuid4()
    outbox.link_open(link_id=link_id, partner_address=BETA, partner_key_id="k", partner_public_key_pem="pem")
    return link_id


def _write(link_id: uuid.UUID) -> OutboxMessage:
    """One message, committed (its doorbell rings after the commit)."""
    with transaction.atomic():
        return outbox.outbox_write(link_id=link_id, message_type="delete", payload={}, stream=str(uuid.uuid4()))


def test_messages_committed_while_a_doorbell_waits_ring_no_other(ring: Any) -> None:
    link_id = _link()
    first, second, third = _write(link_id), _write(link_id), _write(link_id)
    assert ring.call_args_list == [mock.call(str(first.pk), BETA)]
    # The worker takes the doorbell: what is committed from then on rings again.
    with mock.patch("invitations.tasks.outbox_deliver", return_value={}) as deliver:
        deliver_message(str(first.pk), BETA)
    deliver.assert_called_once_with(outbox_id=first.pk, recipient=BETA)
    fourth = _write(link_id)
    assert ring.call_args_list[1:] == [mock.call(str(fourth.pk), BETA)]
    assert {second.pk, third.pk}.isdisjoint({uuid.UUID(c.args[0]) for c in ring.call_args_list})


def test_the_partners_doorbell_delivers_what_is_due_even_when_its_own_message_went_already(ring: Any) -> None:
    link_id = _link()
    rung, *others = [_write(link_id) for _ in range(3)]
    OutboxMessage.objects.filter(pk=rung.pk).update(state=DeliveryState.DELIVERED)
    patch, sent = _partner()  # the partner's inbox, as the delivery tests fake it
    with patch:
        deliver_message(str(rung.pk), BETA)
    assert sorted(i for _path, ids in sent for i in ids) == sorted(str(m.pk) for m in others)
    assert set(OutboxMessage.objects.values_list("state", flat=True)) == {DeliveryState.DELIVERED}


@pytest.mark.parametrize("redis_url", ["", "redis://127.0.0.1:9/0"], ids=["embedded", "redis unreachable"])
def test_without_redis_every_message_rings_its_own(ring: Any, redis_url: str) -> None:
    with override_settings(REDIS_URL=redis_url):
        link_id = _link()
        written = [_write(link_id) for _ in range(3)]
    assert ring.call_args_list == [mock.call(str(m.pk), BETA) for m in written]
