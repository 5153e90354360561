"""Applying verified partner messages: the wire's bookkeeping around a kind's handler.

The messages of one request (one, or a batch) are applied in one transaction, each within
its own savepoint: lock the links they name, drop duplicates, check each stream's sequence,
call each kind's `apply`, record each message and its outcome. A message is applied and
recorded together or not at all. A handler that raises NotApplicable changes nothing (its
savepoint is rolled back), but the message is recorded as refused and its sequence is used
up, so later messages of the stream go on. Only the views turn an outcome into an HTTP answer.

The bookkeeping is read and written once per request, not once per message: the links are
locked in one query (in id order, so two requests never wait on each other crosswise), the
duplicates and the streams' counters are read in one query each, and the records and the
counters are written in one statement each at the end.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass

from django.db import IntegrityError, OperationalError, transaction

from invitations.kinds import LIFECYCLE, Incoming, MessageKind, NotApplicable, kind_get
from invitations.messages import Envelope
from invitations.models import InboundMessage, InboundOutcome, Link, LinkStream
from invitations.outbox import links_locked

log = logging.getLogger(__name__)


class InboxRefusal(Exception):  # noqa: N818
    """The message was not applied and nothing was recorded; `status` is the wire's answer."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Outcome:
    status: str  # applied | absorbed | duplicate | refused
    error: str = ""


@dataclass(frozen=True)
class Received:
    """One message of a request whose signature was verified: its envelope and its exact bytes."""

    envelope: Envelope
    body: bytes


def inbox_apply(
    *, envelope: Envelope, body: bytes, partner_key_id: str, partner_public_key_pem: str, enabled: bool = True,
) -> Outcome:
    """Apply a message whose signature was verified with `partner_key_id`.

    `enabled`: whether Issue Sync is switched on at this site; when it is off, nothing applies
    (a known link is asked to retry later, an unknown one is refused). Raises InboxRefusal when the
    message is not taken, and IntegrityError when a concurrent request wrote the same link or message.
    """
    (result,) = _apply_together([Received(envelope, body)], partner_key_id, partner_public_key_pem, enabled)
    if isinstance(result, InboxRefusal):
        raise result
    return result


def inbox_apply_many(
    *, messages: Sequence[Received], partner_key_id: str, partner_public_key_pem: str, enabled: bool = True,
) -> list[Outcome | InboxRefusal | IntegrityError]:
    """Apply the messages of one verified request, in the order given; each one's outcome or refusal.

    Together in one transaction; when that cannot be done (the same message twice in the
    request, or a concurrent request that wrote one of the same links or messages first, or
    a deadlock), each message on its own, as if sent alone: the results are the same either way.
    """
    if not messages:
        return []
    if len({m.envelope.id for m in messages}) == len(messages):
        try:
            return list(_apply_together(messages, partner_key_id, partner_public_key_pem, enabled))
        except (IntegrityError, OperationalError) as e:
            log.info("applying %d messages one by one: together they met %s", len(messages), e)
    results: list[Outcome | InboxRefusal | IntegrityError] = []
    for message in messages:
        try:
            results.extend(_apply_together([message], partner_key_id, partner_public_key_pem, enabled))
        except IntegrityError as e:
            results.append(e)
    return results


def _apply_together(messages: Sequence[Received], partner_key_id: str, partner_public_key_pem: str,
                    enabled: bool) -> list[Outcome | InboxRefusal]:
    envelopes = [m.envelope for m in messages]
    link_ids = sorted({e.synchronization_id for e in envelopes})
    results: list[Outcome | InboxRefusal] = []
    with transaction.atomic(), _KindRun() as run:
        # Locked first, in id order: a concurrent delivery of these same messages may have committed
        # while we waited, so the duplicates are read after. Shared by requests of concurrent kinds'
        # streams: two of them carrying the same message both try to record it, and the second's
        # whole transaction rolls back on the record's key (then each message again on its own).
        links = {link.pk: link for link in links_locked(link_ids, shared=_concurrent(envelopes))}
        previous = dict(InboundMessage.objects.filter(pk__in=[e.id for e in envelopes])
                        .values_list("pk", "outcome"))
        last_received = {
            (link_id, stream): last for link_id, stream, last in
            LinkStream.objects.filter(link_id__in=link_ids, stream__in={e.stream for e in envelopes})
            .values_list("link_id", "stream", "last_received")
        }
        records: list[InboundMessage] = []
        advanced: dict[tuple[uuid.UUID, str], int] = {}
        for message in messages:
            envelope = message.envelope
            try:
                kind = _kind(envelope)
                prior = previous.get(envelope.id)
                if prior is not None and prior != InboundOutcome.REFUSED:
                    results.append(Outcome("duplicate"))
                    continue
                link = links.get(envelope.synchronization_id)
                if link is None:
                    link = _link_open(envelope, kind, partner_key_id, partner_public_key_pem, enabled=enabled)
                    links[link.pk] = link
                _check(link, envelope, partner_key_id, enabled=enabled)
                stream = (link.pk, envelope.stream)
                if prior is None:
                    _in_sequence(envelope, last_received.get(stream, 0))
            except InboxRefusal as refusal:
                results.append(refusal)
                continue
            # else (a prior refusal): the sender's admin retries it; it is applied now if it applies now.
            run.enter(kind)
            outcome, error = _apply(kind.apply, envelope)
            if prior is None:
                last_received[stream] = advanced[stream] = envelope.sequence
                records.append(InboundMessage(
                    id=envelope.id, synchronization_id=envelope.synchronization_id, stream=envelope.stream,
                    sequence=envelope.sequence, message_type=envelope.type, sender=envelope.sender,
                    body=message.body, outcome=outcome, error=error,
                ))
            else:
                InboundMessage.objects.filter(pk=envelope.id).update(outcome=outcome, error=error)
            results.append(Outcome(outcome, error))
        InboundMessage.objects.bulk_create(records)
        LinkStream.objects.bulk_create(
            [LinkStream(link_id=link_id, stream=stream, last_received=last)
             for (link_id, stream), last in advanced.items()],
            update_conflicts=True, unique_fields=["link", "stream"], update_fields=["last_received"],
        )
    for envelope, result in zip(envelopes, results, strict=True):
        if isinstance(result, Outcome):
            log.info("%s %s #%s%s from %s for %s%s", result.status, envelope.type, envelope.sequence,
                     f" of {envelope.stream}" if envelope.stream else "", envelope.sender,
                     envelope.synchronization_id, f": {result.error}" if result.error else "")
    return results


class _KindRun:
    """The `batch` context of the kind being applied, open across consecutive messages of kinds that share
    it (an issue's state and its comments) and closed when a message of another kind applies (which may
    change what the context read)."""

    def __init__(self) -> None:
        self.kind: MessageKind | None = None
        self.stack = ExitStack()

    def enter(self, kind: MessageKind) -> None:
        if kind is self.kind:
            return
        if self.kind is not None and kind.batch is not None and kind.batch is self.kind.batch:
            self.kind = kind
            return
        self.close()
        self.kind = kind
        if kind.batch is not None:
            self.stack.enter_context(kind.batch())

    def close(self) -> None:
        self.stack.close()
        self.kind = None

    def __enter__(self) -> _KindRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _concurrent(envelopes: Sequence[Envelope]) -> bool:
    """Whether every message is of a `concurrent` kind, on a stream of its own (see MessageKind)."""
    return all(e.stream != LIFECYCLE and (kind := kind_get(e.type)) is not None and kind.concurrent
               for e in envelopes)


def _kind(envelope: Envelope) -> MessageKind:
    kind = kind_get(envelope.type)
    if kind is None:  # decoding refuses these already; a kind unregistered since is still no 500
        raise InboxRefusal(f"{envelope.type!r} is not a kind of message this site knows", status=422)
    return kind


def _link_open(envelope: Envelope, kind: MessageKind, partner_key_id: str, partner_public_key_pem: str, *,
               enabled: bool) -> Link:
    """The link a message that opens one creates (an invitation), or the refusal of a message that does not."""
    if not enabled:
        raise InboxRefusal("Issue Sync is not active on this site", status=403)
    if not kind.opens_link:
        raise InboxRefusal("unknown synchronization: waiting for its invitation", status=425)
    if envelope.sequence != 1 or envelope.stream:
        raise InboxRefusal(f"{kind.title} must be message #1 of its synchronization", status=422)
    return Link.objects.create(id=envelope.synchronization_id, partner_address=envelope.sender,
                               partner_key_id=partner_key_id, partner_public_key_pem=partner_public_key_pem)


def _check(link: Link, envelope: Envelope, partner_key_id: str, *, enabled: bool) -> None:
    if not enabled:
        raise InboxRefusal("Issue Sync is switched off on this site for now", status=503)
    if link.partner_address != envelope.sender:
        raise InboxRefusal("the sender is not this synchronization's partner", status=403)
    if link.partner_key_id != partner_key_id:
        raise InboxRefusal("the signing key is not the one pinned for this synchronization", status=401)


def _in_sequence(envelope: Envelope, last_received: int) -> None:
    expected = last_received + 1
    if envelope.sequence > expected:
        # Retryable: the missing earlier message is on its way.
        raise InboxRefusal(f"waiting for message #{expected} first", status=425)
    if envelope.sequence < expected:
        raise InboxRefusal(f"message #{envelope.sequence} was already applied", status=422)


def _apply(apply: Callable[[Incoming], str], envelope: Envelope) -> tuple[str, str]:
    received = Incoming(
        id=envelope.id, kind=envelope.type, link_id=envelope.synchronization_id, stream=envelope.stream,
        sequence=envelope.sequence, sender=envelope.sender, payload=envelope.payload,
    )
    try:
        with transaction.atomic():  # a savepoint: a refused message leaves nothing half-changed
            outcome = apply(received)
    except NotApplicable as e:
        return InboundOutcome.REFUSED, str(e)
    return (InboundOutcome.ABSORBED if outcome == InboundOutcome.ABSORBED else InboundOutcome.APPLIED), ""
