"""Applying a verified partner message: the wire's bookkeeping around a kind's handler.

One transaction per message: lock the link, drop a duplicate, check the stream's
sequence, call the kind's `apply`, record the message and its outcome. A handler that
raises NotApplicable changes nothing (its savepoint is rolled back), but the message is
recorded as refused and its sequence is used up, so later messages of the stream go on.
Only the views turn an outcome into an HTTP answer.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from invitations.kinds import Incoming, NotApplicable, kind_get
from invitations.messages import Envelope
from invitations.models import InboundMessage, InboundOutcome, Link, LinkStream

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


def inbox_apply(
    *, envelope: Envelope, body: bytes, partner_key_id: str, partner_public_key_pem: str, enabled: bool = True,
) -> Outcome:
    """Apply a message whose signature was verified with `partner_key_id`.

    `enabled`: whether Issue Sync is switched on at this site; when it is off, nothing applies
    (a known link is asked to retry later, an unknown one is refused).
    """
    kind = kind_get(envelope.type)
    if kind is None:  # decoding refuses these already; a kind unregistered since is still no 500
        raise InboxRefusal(f"{envelope.type!r} is not a kind of message this site knows", status=422)
    with transaction.atomic():
        link = Link.objects.select_for_update().filter(pk=envelope.synchronization_id).first()
        # Checked under the link's lock: a concurrent delivery of this same message may have
        # committed while we waited for it.
        previous = InboundMessage.objects.filter(pk=envelope.id).first()
        if previous is not None and previous.outcome != InboundOutcome.REFUSED:
            return Outcome("duplicate")
        if not enabled:
            if link is None:
                raise InboxRefusal("Issue Sync is not active on this site", status=403)
            raise InboxRefusal("Issue Sync is switched off on this site for now", status=503)
        if link is None:
            if not kind.opens_link:
                raise InboxRefusal("unknown synchronization: waiting for its invitation", status=425)
            if envelope.sequence != 1 or envelope.stream:
                raise InboxRefusal(f"{kind.title} must be message #1 of its synchronization", status=422)
            link = Link.objects.create(id=envelope.synchronization_id, partner_address=envelope.sender,
                                       partner_key_id=partner_key_id, partner_public_key_pem=partner_public_key_pem)
        elif link.partner_address != envelope.sender:
            raise InboxRefusal("the sender is not this synchronization's partner", status=403)
        elif link.partner_key_id != partner_key_id:
            raise InboxRefusal("the signing key is not the one pinned for this synchronization", status=401)
        counter = _counter(link, envelope.stream)
        if previous is None:
            expected = counter.last_received + 1
            if envelope.sequence > expected:
                # Retryable: the missing earlier message is on its way.
                raise InboxRefusal(f"waiting for message #{expected} first", status=425)
            if envelope.sequence < expected:
                raise InboxRefusal(f"message #{envelope.sequence} was already applied", status=422)
        # else: the sender's admin retries a message refused before: it is applied now if it applies now.
        outcome, error = _apply(kind.apply, envelope)
        if previous is None:
            counter.last_received = envelope.sequence
            counter.save(update_fields=["last_received"])
            InboundMessage.objects.create(
                id=envelope.id, synchronization_id=envelope.synchronization_id, stream=envelope.stream,
                sequence=envelope.sequence, message_type=envelope.type, sender=envelope.sender, body=body,
                outcome=outcome, error=error,
            )
        else:
            InboundMessage.objects.filter(pk=previous.pk).update(outcome=outcome, error=error)
    log.info("%s %s #%s%s from %s for %s%s", outcome, envelope.type, envelope.sequence,
             f" of {envelope.stream}" if envelope.stream else "", envelope.sender, envelope.synchronization_id,
             f": {error}" if error else "")
    return Outcome(outcome, error)


def _counter(link: Link, stream: str) -> LinkStream:
    counter = LinkStream.objects.filter(link=link, stream=stream).first()
    if counter is None:
        counter = LinkStream.objects.create(link=link, stream=stream)
    return counter


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
