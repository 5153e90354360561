"""Writing outgoing messages: in the caller's transaction, delivered after commit."""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from invitations.messages import REGISTRY, Envelope, envelope_encode
from invitations.models import DeliveryState, OutboxMessage

logger = logging.getLogger(__name__)


def outbox_write(
    *, synchronization_id: uuid.UUID, recipient: str, sequence: int, message_type: str,
    payload: dict[str, Any], created_by: str = "",
) -> OutboxMessage:
    """Record a message to send; the caller holds the synchronization's lock and transaction."""
    assert message_type in REGISTRY, message_type
    now = timezone.now()
    envelope = Envelope(
        id=uuid.uuid4(), type=message_type, synchronization_id=synchronization_id, sequence=sequence,
        sender=settings.SITE_ADDRESS, recipient=recipient, created_at=now, payload=payload,
    )
    message = OutboxMessage.objects.create(
        id=envelope.id, synchronization_id=synchronization_id, sequence=sequence, message_type=message_type,
        recipient=recipient, body=envelope_encode(envelope), next_attempt_at=now,
        give_up_at=now + timedelta(seconds=settings.DELIVERY_GIVE_UP_AFTER_SECONDS),
        created_at=now, created_by=created_by,
    )
    ring_after_commit(message.id)
    return message


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


def outbox_retry(*, message: OutboxMessage) -> bool:
    """An admin's "Retry" for a failed message: due now, with a fresh retry window."""
    now = timezone.now()
    with transaction.atomic():
        updated = OutboxMessage.objects.filter(pk=message.pk, state=DeliveryState.FAILED).update(
            state=DeliveryState.PENDING, next_attempt_at=now, claimed_until=None,
            give_up_at=now + timedelta(seconds=settings.DELIVERY_GIVE_UP_AFTER_SECONDS),
        )
        if updated:
            ring_after_commit(message.pk)
    return bool(updated)
