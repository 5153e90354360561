"""Delivering outbox messages: claim the due ones for a partner, sign and send them, record each outcome."""
from __future__ import annotations

import functools
import logging
import random
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from invitations import signing, transport
from invitations.messages import BATCH_PATH, INBOX_PATH, MAX_BATCH_MESSAGES, batch_encode
from invitations.models import STATE_SQL, DeliveryState, OutboxMessage

log = logging.getLogger(__name__)

BATCH_OVERHEAD_BYTES = 1024  # the batch document around the messages: sender, recipient, brackets
NO_BATCH_INBOX = (404, 405)  # what a partner without the batch inbox answers its path
# Batches one doorbell sends to a partner, one after the other, while each one makes progress.
DRAIN_ROUNDS = 8
# Ids of messages this process delivered lately, newest last: their own doorbells, still queued behind
# the batch that took them, end without asking the database (a delivered message is never sent again).
DELIVERED_REMEMBERED = 20_000
_delivered: OrderedDict[uuid.UUID, None] = OrderedDict()
_delivered_lock = threading.Lock()


def _delivered_remember(ids: list[uuid.UUID]) -> None:
    with _delivered_lock:
        for pk in ids:
            _delivered[pk] = None
        while len(_delivered) > DELIVERED_REMEMBERED:
            _delivered.popitem(last=False)


def _delivered_lately(pk: uuid.UUID) -> bool:
    with _delivered_lock:
        return pk in _delivered


def batch_limit() -> int:
    """The most messages one claim takes for a partner (DELIVERY_BATCH_SIZE, within what a batch may carry)."""
    return max(1, min(settings.DELIVERY_BATCH_SIZE, MAX_BATCH_MESSAGES))


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


def outbox_deliver(*, outbox_id: uuid.UUID, recipient: str | None = None) -> dict[uuid.UUID, float]:
    """Deliver the rung message, and with it the other messages due now for the same partner.

    With `recipient` (the message's partner): claim what is due for it even when the rung
    message itself went already (the doorbell stood for other messages too, invitations.doorbells).

    Then, while it makes progress, the next messages due for that partner (at most
    DRAIN_ROUNDS batches): those held back because an earlier message of their stream was in
    this worker's hands are due now, and this worker is the one that knows. Returns, for each
    message that will be tried again, the seconds until its next try (0: one left due when the
    rounds ran out, to be rung again at once).
    """
    retries: dict[uuid.UUID, float] = {}
    if recipient is None and _delivered_lately(outbox_id):
        return retries  # what the claim would find: the rung message is not due, so nothing is claimed
    claim, messages = _claim(outbox_id=outbox_id, recipient=recipient)
    rounds = 0
    while messages:
        recipient = messages[0].recipient
        with _lease_kept(claim):
            outcomes = _send(messages)
        retries.update(_record(claim, messages, outcomes))
        rounds += 1
        if all(e is not None for e in outcomes):
            break  # no progress: the partner takes nothing now, and the backoff says when to try again
        if rounds == DRAIN_ROUNDS:
            # Rounds used up with work left: rung again at once, behind the doorbells already queued.
            left = OutboxMessage.objects.filter(due_messages(), recipient=recipient).values_list("pk", flat=True)
            retries.update({pk: 0.0 for pk in left[:1]})
            break
        claim, messages = _claim(recipient=recipient)
    return retries


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


def _claim(*, outbox_id: uuid.UUID | None = None, recipient: str | None = None
           ) -> tuple[uuid.UUID, list[OutboxMessage]]:
    """Claim the rung message (or, with `recipient`, the first due one), and with it up to the batch size of
    messages for its partner, each stream's in sequence order from its first undelivered one.

    A stream is taken from its head, the earliest message not delivered yet: when the head is
    due, it goes with the stream's later pending messages, due or still in their backoff (the
    partner applies a stream in order and would answer 425 to a later message sent alone). A
    stream whose head is in another worker's hands, or waits for its backoff, is left alone: its
    later messages go with that head. So a backlog of one stream drains in one batch, in order.

    The claim is a conditional UPDATE: of several workers ringing for the same row, exactly
    one changes it, and the claim token says which rows are whose. On PostgreSQL the rows are
    locked with FOR UPDATE SKIP LOCKED, so concurrent workers take different rows instead of
    queueing on the same ones; a claim whose worker died expires with its lease (a few seconds:
    a live worker extends it while it sends, `_lease_kept`).
    """
    claim = uuid.uuid4()
    now = timezone.now()
    limit = batch_limit()
    due = _due(now, outbox_id, recipient, limit)
    if recipient is None:
        # Rung for one message: it claims only while that one is due, and then it comes first.
        if not due or due[0][0] != outbox_id:
            return claim, []
        recipient = due[0][1]
    streams = list(dict.fromkeys((sync_id, stream) for _, _, sync_id, stream in due))  # in the order they come
    if not streams:
        return claim, []
    # Each stream's first undelivered messages, in sequence order: (id, held by a live claim, waiting for
    # its backoff).
    undelivered: dict[tuple[uuid.UUID, str], list[tuple[uuid.UUID, bool, bool]]] = {}
    wanted_streams = set(streams)
    # The streams' links and names, each list once: the rows of other pairs this adds (a stream name two of
    # the links share) are dropped below.
    for row in _undelivered(recipient, {s for s, _ in streams}, {name for _, name in streams}, limit):
        pk, sync_id, stream = row.pk, row.synchronization_id, row.stream
        state, claimed_until, next_attempt_at = row.state, row.claimed_until, row.next_attempt_at
        if (sync_id, stream) not in wanted_streams:
            continue
        held = state == DeliveryState.DELIVERING and claimed_until is not None and claimed_until >= now
        undelivered.setdefault((sync_id, stream), []).append(
            (pk, held, state == DeliveryState.PENDING and next_attempt_at > now))
    runs: list[list[uuid.UUID]] = []
    for key in streams:
        rows = undelivered.get(key, [])
        if not rows or rows[0][1] or rows[0][2]:
            continue  # the head is another worker's, or waits for its backoff: the stream goes with it
        run = []
        for pk, held, _waiting in rows:
            if held:
                break
            run.append(pk)
        runs.append(run)
        if sum(len(r) for r in runs) >= limit:
            break
    with transaction.atomic():
        # Read whole as locked (an unsent message may have been rewritten since: outbox_write's `merge`), so
        # that the claimed rows need no second read: they stay locked, and so free, until this commits.
        locked = {m.pk: m for m in _free_locked([pk for run in runs for pk in run], now)}
        # Within the batch size and the partner's size cap (a lone message is sent whatever its size); a
        # stream is cut at the first row another worker got meanwhile, so nothing after a gap goes.
        taken: list[OutboxMessage] = []
        total = BATCH_OVERHEAD_BYTES
        full = False
        for run in runs:
            for pk in run:
                if pk not in locked:
                    break
                total += len(locked[pk].body or b"") + 1
                if taken and (len(taken) >= limit or total > settings.INBOUND_MAX_BODY_BYTES):
                    full = True
                    break
                taken.append(locked[pk])
            if full:
                break
        lease_ends = now + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
        _taken_mark([m.pk for m in taken], claim, lease_ends)
    for m in taken:  # as the update left them
        m.state, m.claim, m.claimed_until, m.attempts = DeliveryState.DELIVERING, claim, lease_ends, m.attempts + 1
    # In sequence order within each stream: the partner applies them in the order sent.
    return claim, sorted(taken, key=lambda m: (m.synchronization_id, m.stream, m.sequence))


# A delivery's queries are written out, in portable SQL (PostgreSQL, SQLite): a lone message's delivery
# asks each of them once or twice, and the ORM took several times longer to build them than PostgreSQL to
# answer (a lone delivery's claim, record and next round: 11,351 Python calls through the ORM, 2,560 so).
# The states they select by are written in them ({pending}, {delivering}: `STATE_SQL`), not bound (the due
# query at 60,000 messages with 2,000 pending: 9.9 ms bound, 0.8 ms written).


def _statement(template: str, *values: Any, **lists: int) -> tuple[Any, str, list[Any]]:
    """The outbox's connection, `template` with its table and a placeholder list for each of `lists` (name:
    length), and `values` prepared for it (a UUID or a time as a field of the model prepares it)."""
    connection = connections[OutboxMessage.objects.db]
    sql = template.format(table=connection.ops.quote_name(OutboxMessage._meta.db_table), **STATE_SQL,
                          **{name: ", ".join(["%s"] * n) for name, n in lists.items()})
    prep_uuid = OutboxMessage._meta.pk.get_db_prep_value
    return connection, sql, [
        prep_uuid(v, connection) if isinstance(v, uuid.UUID)
        else connection.ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v
        for v in values
    ]


def _execute(template: str, *values: Any, **lists: int) -> int:
    """Run a written-out statement; how many rows it changed."""
    connection, sql, params = _statement(template, *values, **lists)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def _rows(template: str, *values: Any, **lists: int) -> list[tuple[Any, ...]]:
    """Run a written-out query; its rows as the cursor reads them."""
    connection, sql, params = _statement(template, *values, **lists)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


# The first `limit` messages due now for the partner (the rung one first), as `due_messages` says; a lone
# delivery asks this twice: its claim, and the next round's, which finds nothing. Each state is read on its
# own, in the due index's order and only as far as the limit: a plain index scan, which marks the entries of
# messages that have moved on as dead for the next reader, where one scan of both states (a bitmap scan) read
# every such entry again until the table's vacuum (30,000 delivered messages since the last vacuum: 1.6 ms,
# 0.2 ms so; tests/invitations/test_delivery.py).
_DUE = """
SELECT id, recipient, synchronization_id, stream FROM (
    SELECT id, recipient, synchronization_id, stream, next_attempt_at, created_at, 0 AS place FROM {table}
    WHERE id = %s AND (state = {pending} AND next_attempt_at <= %s OR state = {delivering} AND claimed_until < %s)
    UNION ALL
    SELECT * FROM (
        SELECT id, recipient, synchronization_id, stream, next_attempt_at, created_at, 1 AS place FROM {table}
        WHERE state = {pending} AND next_attempt_at <= %s AND recipient = {partner}
        ORDER BY next_attempt_at, created_at LIMIT %s) AS waiting
    UNION ALL
    SELECT * FROM (
        SELECT id, recipient, synchronization_id, stream, next_attempt_at, created_at, 1 AS place FROM {table}
        WHERE state = {delivering} AND claimed_until < %s AND recipient = {partner}
        ORDER BY next_attempt_at, created_at LIMIT %s) AS expired
) AS due ORDER BY place, next_attempt_at, created_at
"""
_PARTNER_OF_RUNG = "(SELECT recipient FROM {table} WHERE id = %s)"


def _due(now: datetime, outbox_id: uuid.UUID | None, recipient: str | None, limit: int
         ) -> list[tuple[uuid.UUID, str, uuid.UUID, str]]:
    """(id, recipient, link, stream) of `_DUE`: the partner's, or (rung for a message) its message's partner,
    read in the same query."""
    template = _DUE.replace("{partner}", "%s" if recipient is not None else _PARTNER_OF_RUNG)
    partner = recipient if recipient is not None else outbox_id
    rows = _rows(template, outbox_id, now, now, now, partner, limit, now, partner, limit)
    due = {_uuid(pk): (_uuid(pk), to, _uuid(link), stream) for pk, to, link, stream in rows}  # the rung one once
    return list(due.values())[:limit]


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    """A UUID column's value as a cursor reads it: a UUID from PostgreSQL, its hex from SQLite."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


# Each of the streams' first `limit` undelivered messages, in sequence order. (The ORM builds a filtered
# window as a subquery with its expressions replaced, which was most of a claim's Python time, py-spy.) The
# streams' links and names come as two lists; the rows of other pairs this adds are dropped by the caller.
_UNDELIVERED = """
SELECT id, synchronization_id, stream, state, claimed_until, next_attempt_at FROM (
    SELECT id, synchronization_id, stream, state, claimed_until, next_attempt_at, sequence,
           ROW_NUMBER() OVER (PARTITION BY synchronization_id, stream ORDER BY sequence) AS place
    FROM {table}
    WHERE recipient = %s AND state IN ({pending}, {delivering})
          AND synchronization_id IN ({links}) AND stream IN ({names})
) AS undelivered WHERE place <= %s ORDER BY sequence
"""


def _undelivered(recipient: str, links: set[uuid.UUID], names: set[str], limit: int) -> Iterator[OutboxMessage]:
    _, sql, params = _statement(_UNDELIVERED, recipient, *links, *names, limit, links=len(links), names=len(names))
    return iter(OutboxMessage.objects.raw(sql, params))  # through the fields' converters


# The wanted rows still free, locked (skipping those another worker holds), whole: each column named, so that
# a column a migration adds never changes what a prepared statement of a running process returns.
_FREE_LOCKED = """
SELECT {columns} FROM {table}
WHERE id IN ({ids}) AND (state = {pending} OR (state = {delivering} AND claimed_until < %s)) {lock}
"""


@functools.cache
def _free_locked_template(alias: str) -> str:
    """`_FREE_LOCKED` with the database's columns and lock filled in, made once per database."""
    connection = connections[alias]
    # SQLite has no row locks: its writers take turns on the whole file (IMMEDIATE transactions).
    lock = connection.ops.for_update_sql(skip_locked=True) if connection.features.has_select_for_update else ""
    columns = ", ".join(connection.ops.quote_name(f.column) for f in OutboxMessage._meta.concrete_fields if f.column)
    return _FREE_LOCKED.replace("{lock}", lock).replace("{columns}", columns)


def _free_locked(ids: list[uuid.UUID], now: datetime) -> list[OutboxMessage]:
    if not ids:
        return []
    _, sql, params = _statement(_free_locked_template(OutboxMessage.objects.db), *ids, now, ids=len(ids))
    return list(OutboxMessage.objects.raw(sql, params))


_TAKEN = """
UPDATE {table} SET state = {delivering}, claim = %s, claimed_until = %s, attempts = attempts + 1 WHERE id IN ({ids})
"""


def _taken_mark(ids: list[uuid.UUID], claim: uuid.UUID, lease_ends: datetime) -> None:
    if ids:
        _execute(_TAKEN, claim, lease_ends, *ids, ids=len(ids))


# Of the ids, those this claim still holds, delivered.
_DELIVERED = """
UPDATE {table} SET state = {delivered}, delivered_at = %s, claimed_until = NULL, claim = NULL, last_error = ''
WHERE claim = %s AND state = {delivering} AND id IN ({ids})
"""


def _delivered_mark(ids: list[uuid.UUID], claim: uuid.UUID, now: datetime) -> int:
    return _execute(_DELIVERED, now, claim, *ids, ids=len(ids))


def _record(
    claim: uuid.UUID, messages: list[OutboxMessage], outcomes: list[transport.TransportError | None]
) -> dict[uuid.UUID, float]:
    """Record each message's outcome, as its own delivery would have; only rows this claim still holds."""
    now = timezone.now()
    mine = OutboxMessage.objects.filter(claim=claim, state=DeliveryState.DELIVERING)
    delivered = [m for m, e in zip(messages, outcomes, strict=True) if e is None]
    if delivered:
        marked = _delivered_mark([m.pk for m in delivered], claim, now)
        # Remembered only when every one was marked here, and committed (a caller's test may roll it back).
        if marked == len(delivered) and not transaction.get_connection().in_atomic_block:
            _delivered_remember([m.pk for m in delivered])
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
