"""Writing outgoing messages: in the caller's transaction, delivered after commit."""
from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from invitations import doorbells
from invitations.kinds import KINDS, LIFECYCLE
from invitations.messages import Envelope, envelope_encode
from invitations.models import DeliveryState, Link, LinkStream, OutboxMessage
from issuesync.prepared import Param, Prepared

logger = logging.getLogger(__name__)

# Given the payload of a stream's last unsent message, the payload that says it and the new one (or None).
Merge = Callable[[dict[str, Any]], dict[str, Any] | None]


def link_open(*, link_id: uuid.UUID, partner_address: str, partner_key_id: str, partner_public_key_pem: str) -> Link:
    """The wire's side of a new synchronization this site starts: the partner and its pinned key."""
    link = Link.objects.create(id=link_id, partner_address=partner_address, partner_key_id=partner_key_id,
                               partner_public_key_pem=partner_public_key_pem)
    LinkStream.objects.create(link=link, stream=LIFECYCLE)
    return link


def link_locked(link_id: uuid.UUID) -> None:
    """Lock the link's row until the caller commits; a caller about to lock its synchronization and write
    to the outbox takes this first.

    The inbox locks the links a request names, then the kinds' handlers lock their synchronization;
    outbox_write locks the link too (with its stream's counter). A transaction that locked the
    synchronization first and then wrote to the outbox would wait crosswise with the inbox (a deadlock),
    so every such transaction locks the link first: one order everywhere, link then synchronization.
    """
    links_locked([link_id])


def links_locked(link_ids: list[uuid.UUID], *, shared: bool = False) -> list[Link]:
    """The links, locked in id order until the caller commits: exclusively, or in share mode (`link_shared`).

    Share mode is PostgreSQL's; SQLite serializes every writer anyway (and ignores both).
    """
    if shared and connection.vendor == "postgresql":
        table = Link._meta.db_table
        return list(Link.objects.raw(f"SELECT * FROM {table} WHERE id = ANY(%s) ORDER BY id FOR SHARE",
                                     [list(link_ids)]))
    return list(Link.objects.select_for_update().filter(pk__in=link_ids).order_by("pk"))


def link_shared(link_id: uuid.UUID) -> None:
    """Hold the link's row in share mode until the caller commits: any number of holders at once, while
    whoever takes it with `link_locked` (the inbox, an admin's action, a mapping change) waits for them
    all, and they for it.

    For writers that only add to their own streams (an issue's changes): they need the link and its
    synchronization not to change under them, not to exclude each other.
    """
    links_locked([link_id], shared=True)


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
    counter = _counter_locked(link_id, stream)
    if merge is not None and counter.last_sent:
        merged = _unsent_merged(link_id=link_id, stream=stream, sequence=counter.last_sent,
                                message_type=message_type, merge=merge)
        if merged is not None:
            return merged
    counter.last_sent += 1
    counter.save(update_fields=["last_sent"])
    message = _message(counter, counter.last_sent, message_type, payload, timezone.now(), created_by)
    message.save(force_insert=True)
    ring_after_commit(message.id, recipient=message.recipient)
    return message


def _counter_locked(link_id: uuid.UUID, stream: str) -> LinkStream:
    """The stream's counter row, locked until the caller commits (created on the stream's first message).

    Only the counter's row: the link's own lock is the caller's (`link_locked`, or `link_shared` for
    writers of issue streams, which would wait on each other here if this locked the link too).
    """
    counter = _COUNTER_LOCKED.first(link=link_id, stream=stream)
    if counter is None:
        # A row this transaction inserts is its own until it commits: no other sees it, and another
        # inserting the same stream waits on the unique key, then fails (not read again to lock it).
        counter = LinkStream.objects.create(link=Link.objects.get(pk=link_id), stream=stream)
    return counter


# Every message written reads its stream's counter so, and a state's the stream's last message: built once
# per process (issuesync.prepared).
_COUNTER_LOCKED = Prepared(lambda: LinkStream.objects.select_for_update(of=("self",)).select_related("link").filter(
    link_id=Param("link", LinkStream._meta.get_field("link")),
    stream=Param("stream", LinkStream._meta.get_field("stream"))))
_UNSENT_LAST = Prepared(lambda: OutboxMessage.objects.select_for_update().filter(
    synchronization_id=Param("link", OutboxMessage._meta.get_field("synchronization_id")),
    stream=Param("stream", OutboxMessage._meta.get_field("stream")),
    sequence=Param("sequence", OutboxMessage._meta.get_field("sequence")),
    message_type=Param("type", OutboxMessage._meta.get_field("message_type")),
    state=DeliveryState.PENDING, attempts=0))


def _message(counter: LinkStream, sequence: int, message_type: str, payload: dict[str, Any],
             now: datetime, created_by: str) -> OutboxMessage:
    """The outbox row (not saved yet) holding the exact signed bytes of one message of the stream."""
    envelope = Envelope(
        id=uuid.uuid4(), type=message_type, synchronization_id=counter.link_id, sequence=sequence,
        sender=settings.SITE_ADDRESS, recipient=counter.link.partner_address, created_at=now, payload=payload,
        stream=counter.stream,
    )
    return OutboxMessage(
        id=envelope.id, synchronization_id=counter.link_id, stream=counter.stream, sequence=sequence,
        message_type=message_type, recipient=envelope.recipient, body=envelope_encode(envelope),
        next_attempt_at=now, give_up_at=now + timedelta(seconds=settings.DELIVERY_GIVE_UP_AFTER_SECONDS),
        created_at=now, created_by=created_by,
    )


def outbox_write_many(
    *, link_id: uuid.UUID, stream: str, messages: list[tuple[str, dict[str, Any]]], created_by: str = "",
) -> list[OutboxMessage]:
    """Record several messages of one stream, in order, with consecutive sequences, in one insert.

    One doorbell rings, for the last: a claim takes a stream from its head, in sequence order, so the
    worker that claims the last takes the earlier ones with it (or another already has); the rest of
    the stream's messages need no doorbell of their own.
    """
    if not messages:
        return []
    for message_type, _payload in messages:
        assert message_type in KINDS, message_type
    counter = _counter_locked(link_id, stream)
    first = counter.last_sent + 1
    counter.last_sent += len(messages)
    counter.save(update_fields=["last_sent"])
    now = timezone.now()
    rows = [_message(counter, first + n, message_type, payload, now, created_by)
            for n, (message_type, payload) in enumerate(messages)]
    OutboxMessage.objects.bulk_create(rows)
    ring_after_commit(rows[-1].id, recipient=rows[-1].recipient)
    return rows


_HELD: ContextVar[list[uuid.UUID] | None] = ContextVar("held_doorbells", default=None)


@contextmanager
def doorbells_held() -> Iterator[list[uuid.UUID]]:
    """Messages written inside the block ring no doorbell of their own: their ids are collected, and the
    caller rings (`ring_after_commit`) the ones it chooses, e.g. only the newest of a group, which a
    claim takes together with every older due message (see `outbox_write_many`)."""
    held: list[uuid.UUID] = []
    token = _HELD.set(held)
    try:
        yield held
    finally:
        _HELD.reset(token)


def _unsent_merged(
    *, link_id: uuid.UUID, stream: str, sequence: int, message_type: str, merge: Merge
) -> OutboxMessage | None:
    """The stream's last message, rewritten with `merge`, if it has never left this site."""
    # Locked, and checked again once locked: a worker claiming it meanwhile makes it an attempt (then
    # it is not rewritten), and a worker that comes after skips it until this transaction ends.
    last = _UNSENT_LAST.first(link=link_id, stream=stream, sequence=sequence, type=message_type)
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
    ring_after_commit(last.id, recipient=last.recipient)
    return last


def ring_after_commit(outbox_id: uuid.UUID, *, recipient: str = "", force: bool = False) -> None:
    """Ring a doorbell for the message once the caller's transaction commits.

    With `recipient`, not while a doorbell for that partner still waits in the queue: it will
    claim this message too (invitations.doorbells).
    """
    from invitations.tasks import deliver_message

    held = _HELD.get()
    if held is not None and not force:
        held.append(outbox_id)
        return

    def ring() -> None:
        # Best effort: the change is committed and the sweep delivers the row anyway, so a broker
        # that cannot be reached is logged, never turned into an error for an action that was made.
        try:
            if not recipient:
                deliver_message.delay(str(outbox_id))
            elif doorbells.ring_wanted(recipient):
                deliver_message.delay(str(outbox_id), recipient)
        except Exception:
            logger.warning("Doorbell for outbox message %s not rung (broker unreachable); the sweep will "
                           "deliver it", outbox_id, exc_info=True)

    # Only after commit: a worker must never look for a row that is not there yet, and a doorbell
    # already queued for the partner must find it (see invitations.doorbells).
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
