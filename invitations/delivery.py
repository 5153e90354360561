"""Delivering one outbox message: claim it, sign it, send it, record the outcome."""
from __future__ import annotations

import logging
import random
import uuid
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from invitations import signing, transport
from invitations.messages import INBOX_PATH
from invitations.models import DeliveryState, OutboxMessage

log = logging.getLogger(__name__)


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: between half and all of base * 2^(n-1), capped."""
    ceiling = min(settings.DELIVERY_BACKOFF_MAX_SECONDS, settings.DELIVERY_BACKOFF_BASE_SECONDS * 2 ** (attempts - 1))
    return random.uniform(ceiling / 2, ceiling)


def sweep_grace_seconds() -> float:
    """How long a due message's own doorbell may take before the sweep rings again.

    The sweep runs in the worker, from the same first-in first-out queue as the
    doorbells, and a sweep that waited there longer than this is dropped unrun
    (its `expires`, issuesync/celery.py). So when a sweep runs, every doorbell
    rung more than this long ago has been taken off the queue already: a message
    overdue by more than the grace has lost its doorbell, or never had one (a
    backoff too long for a countdown), and only those are rung again.
    """
    return float(settings.DELIVERY_SWEEP_GRACE_SECONDS)


def due_messages(*, grace: float = 0) -> Q:
    """Messages a worker may claim now; with `grace`, only pending ones overdue by more than that."""
    now = timezone.now()
    return Q(state=DeliveryState.PENDING, next_attempt_at__lte=now - timedelta(seconds=grace)) | Q(
        state=DeliveryState.DELIVERING, claimed_until__lt=now
    )


def message_deliver(*, outbox_id: uuid.UUID) -> float | None:
    """Try to deliver once. Returns seconds until the next try when one is scheduled, else None."""
    now = timezone.now()
    # The claim is a conditional UPDATE: of several workers ringing for the same
    # row, exactly one changes it; a claim whose worker died expires with its lease.
    claimed = (
        OutboxMessage.objects.filter(pk=outbox_id)
        .filter(due_messages())
        .update(
            state=DeliveryState.DELIVERING,
            claimed_until=now + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS),
            attempts=F("attempts") + 1,
        )
    )
    if not claimed:
        return None
    message = OutboxMessage.objects.get(pk=outbox_id)
    body = bytes(message.body)
    try:
        headers = signing.sign(
            "POST", message.recipient + INBOX_PATH, body, {"Content-Type": "application/json"}
        )
        transport.request("POST", message.recipient, INBOX_PATH, body=body, headers=headers)
    except transport.TransportError as e:
        return _record_failure(message, e)
    OutboxMessage.objects.filter(pk=outbox_id, state=DeliveryState.DELIVERING).update(
        state=DeliveryState.DELIVERED, delivered_at=timezone.now(), claimed_until=None, last_error=""
    )
    log.info("delivered %s #%s of %s to %s", message.message_type, message.sequence,
             message.synchronization_id, message.recipient)
    return None


def _record_failure(message: OutboxMessage, error: transport.TransportError) -> float | None:
    now = timezone.now()
    mine = OutboxMessage.objects.filter(pk=message.pk, state=DeliveryState.DELIVERING)
    if error.permanent or now >= message.give_up_at:
        mine.update(state=DeliveryState.FAILED, claimed_until=None, last_error=str(error))
        log.warning("giving up on %s #%s to %s: %s", message.message_type, message.sequence,
                    message.recipient, error)
        return None
    delay = backoff_seconds(message.attempts)
    if error.retry_after is not None:
        delay = max(delay, min(error.retry_after, settings.DELIVERY_BACKOFF_MAX_SECONDS))
    mine.update(
        state=DeliveryState.PENDING, claimed_until=None, last_error=str(error),
        next_attempt_at=now + timedelta(seconds=delay),
    )
    log.info("will retry %s #%s to %s in %.1fs: %s", message.message_type, message.sequence,
             message.recipient, delay, error)
    return delay
