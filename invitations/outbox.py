"""Writing outgoing messages: in the caller's transaction, delivered after commit."""
from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from invitations.kinds import KINDS, LIFECYCLE
from invitations.messages import Envelope, envelope_encode
from invitations.models import DeliveryState, Link, LinkStream, OutboxMessage

# Given the payload of a stream's last unsent message, the payload that says it and the new one (or None).
Merge = Callable[[dict[str, Any]], dict[str, Any] | None]


def link_open(*, link_id: uuid.UUID, partner_address: str, partner_key_id: str, partner_public_key_pem: str) -> Link:
    """The wire's side of a new synchronization this site starts: the partner and its pinned key."""
    link = Link.objects.create(id=link_id, partner_address=partner_address, partner_key_id=partner_key_id,
                               partner_public_key_pem=partner_public_key_pem)
    LinkStream.objects.create(link=link, stream=LIFECYCLE)
    return link

logger = logging.getLogger(__name__)


def outbox_write(
    *, link_id: uuid.UUID, message_type: str, payload: dict[str, Any], stream: str = LIFECYCLE,
    created_by: str = "", merge: Merge | None = None,
) -> OutboxMessage:
    """Record a message to send, with the next sequence of its stream, in the caller's transaction.

    The stream's counter row is locked until the caller commits, so concurrent writers on one
    stream take consecutive numbers; other streams of the link are not held up.

    `merge`, for a kind whose messages carry a state (the latest values, not an action): when the
    stream's last message is of the same kind and has never been sent, `merge(its payload)` gives
    the payload that says both, and that message is rewritten instead of a new one written (None:
    a new one). The partner never saw it, so nothing it holds changes: the message keeps its id
    and its place in the stream, and one message is delivered and applied instead of two.
    """
    assert message_type in KINDS, message_type
    counter = LinkStream.objects.select_for_update().select_related("link").filter(
        link_id=link_id, stream=stream).first()
    if counter is None:
        counter = LinkStream.objects.create(link=Link.objects.get(pk=link_id), stream=stream)
        counter = LinkStream.objects.select_for_update().select_related("link").get(pk=counter.pk)
    if merge is not None and counter.last_sent:
        merged = _unsent_merged(link_id=link_id, stream=stream, sequence=counter.last_sent,
                                message_type=message_type, merge=merge)
        if merged is not None:
            return merged
    counter.last_sent += 1
    counter.save(update_fields=["last_sent"])
    sequence, recipient = counter.last_sent, counter.link.partner_address
    now = timezone.now()
    envelope = Envelope(
        id=uuid.uuid4(), type=message_type, synchronization_id=link_id, sequence=sequence,
        sender=settings.SITE_ADDRESS, recipient=recipient, created_at=now, payload=payload, stream=stream,
    )
    message = OutboxMessage.objects.create(
        id=envelope.id, synchronization_id=link_id, stream=stream, sequence=sequence, message_type=message_type,
        recipient=recipient, body=envelope_encode(envelope), next_attempt_at=now,
        give_up_at=now + timedelta(seconds=settings.DELIVERY_GIVE_UP_AFTER_SECONDS),
        created_at=now, created_by=created_by,
    )
    ring_after_commit(message.id)
    return message


def _unsent_merged(
    *, link_id: uuid.UUID, stream: str, sequence: int, message_type: str, merge: Merge
) -> OutboxMessage | None:
    """The stream's last message, rewritten with `merge`, if it has never left this site."""
    # Locked, and checked again once locked: a worker claiming it meanwhile makes it an attempt (then
    # it is not rewritten), and a worker that comes after skips it until this transaction ends.
    last = OutboxMessage.objects.select_for_update().filter(
        synchronization_id=link_id, stream=stream, sequence=sequence, message_type=message_type,
        state=DeliveryState.PENDING, attempts=0).first()
    if last is None:
        return None
    sent = json.loads(bytes(last.body))
    payload = merge(sent["payload"])
    if payload is None:
        return None
    last.body = envelope_encode(Envelope(
        id=last.id, type=message_type, synchronization_id=link_id, sequence=sequence, sender=sent["sender"],
        recipient=last.recipient, created_at=last.created_at, payload=payload, stream=stream))
    last.save(update_fields=["body"])
    # Rung again: a worker that skipped it while it was locked here may have taken its doorbell.
    ring_after_commit(last.id)
    return last


def ring_after_commit(outbox_id: uuid.UUID) -> None:
    from invitations.tasks import deliver_message

    def ring() -> None:
        # Best effort: the change is committed and the sweep delivers the row anyway, so a broker
        # that cannot be reached is logged, never turned into an error for an action that was made.
        try:
            deliver_message.delay(str(outbox_id))
        except Exception:
            logger.warning("Doorbell for outbox message %s not rung (broker unreachable); the sweep will "
                           "deliver it", outbox_id, exc_info=True)

    # Only after commit: a worker must never look for a row that is not there yet.
    transaction.on_commit(ring)


def outbox_retry_failed(*, link_id: uuid.UUID) -> int:
    """An admin's "Retry": every failed message of the link is due now, with a fresh retry window.

    Returns how many are sent again (0: nothing had failed).
    """
    now = timezone.now()
    with transaction.atomic():
        ids = list(OutboxMessage.objects.select_for_update().filter(
            synchronization_id=link_id, state=DeliveryState.FAILED).values_list("pk", flat=True))
        OutboxMessage.objects.filter(pk__in=ids).update(
            state=DeliveryState.PENDING, next_attempt_at=now, claimed_until=None,
            give_up_at=now + timedelta(seconds=settings.DELIVERY_GIVE_UP_AFTER_SECONDS),
        )
        for pk in ids:
            ring_after_commit(pk)
    return len(ids)
