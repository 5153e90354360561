"""Delivering outbox messages: claim the due ones for a partner, sign and send them, record each outcome."""
from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Length
from django.utils import timezone

from invitations import signing, transport
from invitations.messages import BATCH_PATH, INBOX_PATH, MAX_BATCH_MESSAGES, batch_encode
from invitations.models import DeliveryState, OutboxMessage

log = logging.getLogger(__name__)

BATCH_OVERHEAD_BYTES = 1024  # the batch document around the messages: sender, recipient, brackets
NO_BATCH_INBOX = (404, 405)  # what a partner without the batch inbox answers its path


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


def outbox_deliver(*, outbox_id: uuid.UUID) -> dict[uuid.UUID, float]:
    """Deliver the rung message, and with it the other messages due now for the same partner.

    Returns, for each message that will be tried again, the seconds until its next try.
    """
    claim, messages = _claim(outbox_id)
    if not messages:
        return {}
    with _lease_kept(claim):
        outcomes = _send(messages)
    return _record(claim, messages, outcomes)


def lease_renew_seconds() -> float:
    """How often a live worker extends the lease of the messages it is sending: three times a lease."""
    return settings.DELIVERY_LEASE_SECONDS / 3


@contextmanager
def _lease_kept(claim: uuid.UUID) -> Iterator[None]:
    """While the block runs, extend the claim's lease every third of a lease (the heartbeat).

    The lease is short, so a killed worker's messages are taken over within seconds
    (the sweep rings for an expired claim); a live worker sending a slow batch keeps it,
    so no second worker claims and sends the same rows meanwhile. The heartbeat runs
    on a thread of its own, with its own database connection, closed when it ends.
    Inside a transaction (a caller's test), the rows are locked by the caller: no heartbeat.
    """
    if transaction.get_connection().in_atomic_block:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(lease_renew_seconds()):
                OutboxMessage.objects.filter(claim=claim, state=DeliveryState.DELIVERING).update(
                    claimed_until=timezone.now() + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS))
        except DatabaseError as e:  # the lease then runs out, and the rows are retried: never lost
            log.warning("could not extend the lease of claim %s: %s", claim, e)
        finally:
            connections.close_all()  # this thread's connections only

    heart = threading.Thread(target=beat, name=f"lease-{claim}", daemon=True)
    heart.start()
    try:
        yield
    finally:
        stop.set()
        heart.join()


def _send(messages: list[OutboxMessage]) -> list[transport.TransportError | None]:
    """Send the claimed messages of one partner, alone or as one batch; each message's outcome."""
    recipient = messages[0].recipient
    outcomes: list[transport.TransportError | None]
    if len(messages) == 1:
        outcomes = [_send_alone(messages[0])]
    else:
        bodies = [bytes(m.body) for m in messages]
        body = batch_encode(sender=settings.SITE_ADDRESS, recipient=recipient, bodies=bodies)
        try:
            outcomes = _batch_outcomes(recipient, _post(recipient, BATCH_PATH, body), len(messages))
        except transport.TransportError as e:
            if e.status in NO_BATCH_INBOX:
                # A partner without the batch inbox (an older version): each message alone, in order.
                log.info("%s has no batch inbox (%s); sending %d messages one by one", recipient, e.status,
                         len(messages))
                outcomes = [_send_alone(m) for m in messages]
            else:
                outcomes = [e] * len(messages)
    return outcomes


def _send_alone(message: OutboxMessage) -> transport.TransportError | None:
    try:
        _post(message.recipient, INBOX_PATH, bytes(message.body))
    except transport.TransportError as e:
        return e
    return None


def _post(recipient: str, path: str, body: bytes) -> transport.Response:
    headers = signing.sign("POST", recipient + path, body, {"Content-Type": "application/json"})
    return transport.request("POST", recipient, path, body=body, headers=headers)


def _batch_outcomes(
    recipient: str, response: transport.Response, count: int
) -> list[transport.TransportError | None]:
    """Each message's answer in a batch, classified as if it had been sent alone."""
    try:
        results = response.json()["results"]
        if not isinstance(results, list) or len(results) != count:
            raise ValueError("one result per message was expected")
        return [
            None if 200 <= int(r["code"]) < 300
            else transport.refusal(recipient, int(r["code"]), str(r.get("error", "")), r.get("retry_after"))
            for r in results
        ]
    except (ValueError, KeyError, TypeError) as e:
        # The partner committed nothing we can tell apart: retry all; applied ones come back as duplicates.
        raise transport.TransportError(f"{recipient} answered an unreadable batch result", permanent=False) from e


def _claim(outbox_id: uuid.UUID) -> tuple[uuid.UUID, list[OutboxMessage]]:
    """Claim the rung message, if it is still due, and up to the batch size of others due for its partner.

    The claim is a conditional UPDATE: of several workers ringing for the same row, exactly
    one changes it, and the claim token says which rows are whose. On PostgreSQL the
    candidates are read with FOR UPDATE SKIP LOCKED, so concurrent workers take different
    rows instead of queueing on the same ones; a claim whose worker died expires with its lease
    (a few seconds: a live worker extends it while it sends, `_lease_kept`).
    """
    claim = uuid.uuid4()
    recipient = OutboxMessage.objects.filter(due_messages(), pk=outbox_id).values_list("recipient", flat=True).first()
    if recipient is None:
        return claim, []
    now = timezone.now()
    limit = max(1, min(settings.DELIVERY_BATCH_SIZE, MAX_BATCH_MESSAGES))
    with transaction.atomic():
        candidates = list(
            OutboxMessage.objects.filter(due_messages(), recipient=recipient)
            .select_for_update(skip_locked=True)
            .annotate(rung=Case(When(pk=outbox_id, then=Value(0)), default=Value(1)), size=Length("body"))
            .order_by("rung", "next_attempt_at", "created_at", "sequence")
            .values_list("pk", "size")[:limit]
        )
        # Never more than the partner's size cap in one request (a lone message is sent whatever its size).
        ids: list[uuid.UUID] = []
        total = BATCH_OVERHEAD_BYTES
        for pk, size in candidates:
            total += (size or 0) + 1
            if ids and total > settings.INBOUND_MAX_BODY_BYTES:
                break
            ids.append(pk)
        OutboxMessage.objects.filter(due_messages(), pk__in=ids).update(
            state=DeliveryState.DELIVERING, claim=claim,
            claimed_until=now + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS),
            attempts=F("attempts") + 1,
        )
    # In sequence order within each synchronization, whatever the clocks said: the partner applies
    # them in the order sent, and a later one sent first would only be answered 425.
    messages = list(OutboxMessage.objects.filter(claim=claim, state=DeliveryState.DELIVERING)
                    .order_by("synchronization_id", "sequence"))
    return claim, messages


def _record(
    claim: uuid.UUID, messages: list[OutboxMessage], outcomes: list[transport.TransportError | None]
) -> dict[uuid.UUID, float]:
    """Record each message's outcome, as its own delivery would have; only rows this claim still holds."""
    now = timezone.now()
    mine = OutboxMessage.objects.filter(claim=claim, state=DeliveryState.DELIVERING)
    delivered = [m for m, e in zip(messages, outcomes, strict=True) if e is None]
    if delivered:
        mine.filter(pk__in=[m.pk for m in delivered]).update(
            state=DeliveryState.DELIVERED, delivered_at=now, claimed_until=None, claim=None, last_error=""
        )
    for m in delivered:
        log.info("delivered %s #%s of %s to %s", m.message_type, m.sequence, m.synchronization_id, m.recipient)
    failed: dict[str, list[uuid.UUID]] = {}
    retries: dict[uuid.UUID, float] = {}
    for m, error in zip(messages, outcomes, strict=True):
        if error is None:
            continue
        if error.permanent or now >= m.give_up_at:
            failed.setdefault(str(error), []).append(m.pk)
            log.warning("giving up on %s #%s to %s: %s", m.message_type, m.sequence, m.recipient, error)
            continue
        delay = backoff_seconds(m.attempts)
        if error.retry_after is not None:
            delay = max(delay, min(error.retry_after, settings.DELIVERY_BACKOFF_MAX_SECONDS))
        mine.filter(pk=m.pk).update(
            state=DeliveryState.PENDING, claimed_until=None, claim=None, last_error=str(error),
            next_attempt_at=now + timedelta(seconds=delay),
        )
        retries[m.pk] = delay
        log.info("will retry %s #%s to %s in %.1fs: %s", m.message_type, m.sequence, m.recipient, delay, error)
    for text, ids in failed.items():
        mine.filter(pk__in=ids).update(state=DeliveryState.FAILED, claimed_until=None, claim=None, last_error=text)
    return retries
