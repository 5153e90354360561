"""The public wire endpoints: discovery, and the inbox partners post signed messages to."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from invitations import signing
from invitations.directory import SiteDirectory
from invitations.discovery import discovery_document, partner_key_kept, partner_key_refused
from invitations.inbox import InboxRefusal, Outcome, Received, inbox_apply_many
from invitations.keys import key_id_prefix, load_public_key
from invitations.messages import (
    BATCH_PATH,
    INBOX_PATH,
    Envelope,
    MalformedMessage,
    addressed_decode,
    batch_decode,
    envelope_from,
)
from invitations.models import InboundMessage, Link
from issuesync.prepared import Param, Prepared
from jira.models import SiteConfiguration

log = logging.getLogger(__name__)

RETRY_SOON = (425, 503)  # answered with Retry-After: 1
# How often one server process asks the worker for the same sender's discovery, at most.
FETCH_RING_SECONDS = 5


@require_GET
def discovery(request: HttpRequest) -> JsonResponse:
    return JsonResponse(discovery_document())


@dataclass(frozen=True)
class _Answer:
    """What the inbox answers for one message: an HTTP status and its JSON."""

    status: int
    data: dict[str, Any]


def _refused(status: int, error: str, request: HttpRequest) -> _Answer:
    log.warning("refused inbound message from %s: %s (%s)", request.META.get("REMOTE_ADDR"), error, status)
    return _Answer(status, {"error": error})


def _respond(answer: _Answer) -> JsonResponse:
    response = JsonResponse(answer.data, status=answer.status)
    if answer.status in RETRY_SOON:
        response["Retry-After"] = "1"
    return response


def _refuse(status: int, error: str, request: HttpRequest) -> JsonResponse:
    return _respond(_refused(status, error, request))


def _request_refusal(request: HttpRequest) -> JsonResponse | None:
    """What concerns the request as a whole, before its body is read or parsed."""
    # Read the size from the header first, so an oversize body is never read whole.
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > settings.INBOUND_MAX_BODY_BYTES:
        return _refuse(413, "the body is larger than the size cap", request)
    if len(request.body) > settings.INBOUND_MAX_BODY_BYTES:
        return _refuse(413, "the body is larger than the size cap", request)
    if request.content_type != "application/json":
        return _refuse(415, "the body must be application/json", request)
    if "Signature-Input" not in request.headers or "Signature" not in request.headers:
        return _refuse(401, "the request is not signed", request)
    return None


class _Addressed(Protocol):
    @property
    def sender(self) -> str: ...

    @property
    def recipient(self) -> str: ...


_Decoded = TypeVar("_Decoded", bound=_Addressed)


def _open(request: HttpRequest, path: str, decode: Callable[[bytes], _Decoded],
          links: Callable[[_Decoded], Iterable[Any]]) -> JsonResponse | tuple[_Decoded, bytes, str, str]:
    """What both inboxes check before anything about the content is answered.

    The request (size, type, signature present), who sends it to whom, and the signature
    itself, with the key pinned for the sender on a link the request names or else the key
    the sender publishes. Until the signature is verified, the answer depends on nothing but
    the request and the sender: an unsigned or badly signed request is 401 whatever it names.
    Gives the decoded body, its raw bytes, the key id and the public key (PEM) that verified it.
    """
    refusal = _request_refusal(request)
    if refusal is not None:
        return refusal
    body = request.body
    try:
        decoded = decode(body)
    except MalformedMessage as e:
        return _refuse(400, str(e), request)
    key_id = _sender_refusal(decoded.sender, decoded.recipient, request)
    if isinstance(key_id, JsonResponse):
        return key_id
    pem = _trusted_key(decoded.sender, key_id, links(decoded), request)
    if isinstance(pem, JsonResponse):
        return pem
    try:
        signing.verify(request.method or "POST", settings.SITE_ADDRESS + path, request.headers, body,
                       key_id, load_public_key(pem))
    except signing.SignatureRefused as e:
        return _refuse(401, str(e), request)
    return decoded, body, key_id, pem


def _sender_refusal(sender: str, recipient: str, request: HttpRequest) -> JsonResponse | str:
    """Refuse a request not addressed to us or not from a known site; else return the key id that signed it."""
    if recipient != settings.SITE_ADDRESS:
        return _refuse(421, f"this message is addressed to {recipient}, not to this site", request)
    if sender not in SiteDirectory.load() or sender == settings.SITE_ADDRESS:
        return _refuse(403, f"{sender} is not a site this server knows", request)
    try:
        key_id = signing.signature_key_id(request.headers)
    except signing.SignatureRefused as e:
        return _refuse(401, str(e), request)
    if not key_id.startswith(key_id_prefix(sender)):
        return _refuse(401, "the signing key does not belong to the sender", request)
    return key_id


def _link_ids(values: Iterable[Any]) -> list[uuid.UUID]:
    ids = []
    for value in values:
        try:
            ids.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return ids


# Read for every partner's request, once for each link it names (issuesync.prepared).
_PINNED = Prepared(lambda: Link.objects.filter(
    pk=Param("pk", Link._meta.pk), partner_address=Param("sender", Link._meta.get_field("partner_address")),
    partner_key_id=Param("key_id", Link._meta.get_field("partner_key_id"))).only("partner_public_key_pem"))


def _trusted_key(sender: str, key_id: str, link_ids: Iterable[Any], request: HttpRequest) -> JsonResponse | str:
    """The public key (PEM) to verify the request with, or the refusal.

    The key pinned on a link of this sender that the request names, when it is the key
    that signed; else the key the sender publishes at its discovery address, as the site
    last fetched it. The inbox never fetches it itself: a request of the sender may be
    waiting on this site while it would wait on the sender (issue 15, item 3). A key not
    fetched yet, or a key id other than the kept one (a key the partner changed), rings the
    worker to fetch the sender's discovery and answers 425 with Retry-After at once; once
    fetched for that key id, a key id still not the published one is refused. Whether a named link
    exists is not told: both ways end in the same signature check.
    """
    for pk in sorted(set(_link_ids(link_ids))):  # in id order; a request names one link, nearly always
        link = _PINNED.first(pk=pk, sender=sender, key_id=key_id)
        if link is not None:
            return link.partner_public_key_pem
    kept = partner_key_kept(sender)
    if kept is not None and kept.key_id == key_id:
        return kept.public_key_pem
    if kept is not None and partner_key_refused(sender, key_id):
        return _refuse(401, "the signing key is not the one the sender publishes", request)
    _ring_fetch(sender, key_id)
    return _refuse(425, "the sender's published key is being fetched; try again in a moment", request)


def _ring_fetch(sender: str, key_id: str) -> None:
    """Ask the worker to fetch the sender's discovery: once per process and key id per few seconds, best effort."""
    from invitations.tasks import fetch_discovery

    rung = f"invitations:discovery-rung:{sender}:{key_id}"
    if not cache.add(rung, 1, timeout=FETCH_RING_SECONDS):
        return
    try:
        fetch_discovery.delay(sender, key_id)
    except Exception as e:  # noqa: BLE001 - a broker that is down: the sender retries, and rings again
        cache.delete(rung)
        log.warning("could not ask for %s's discovery: %s", sender, e)


def _answer(result: Outcome | InboxRefusal | IntegrityError, envelope: Envelope, request: HttpRequest) -> _Answer:
    """How one message of a verified request went, as the wire answers it."""
    if isinstance(result, InboxRefusal):
        return _refused(result.status, str(result), request)
    if isinstance(result, IntegrityError):
        # The same message applied by a concurrent request: it won, we acknowledge.
        if InboundMessage.objects.filter(pk=envelope.id).exists():
            return _Answer(200, {"status": "duplicate"})
        return _refused(409, "a concurrent change got in the way; try again", request)
    if result.status == "refused":
        # Recorded, and its sequence used: the messages after it go on. The sender shows it as failed.
        return _refused(422, result.error, request)
    return _Answer(200, {"status": result.status})


@csrf_exempt  # authenticated by its HTTP message signature, not by a browser session
@require_POST
def inbox(request: HttpRequest) -> JsonResponse:
    opened = _open(request, INBOX_PATH, addressed_decode, lambda m: [m.data.get("synchronization_id")])
    if isinstance(opened, JsonResponse):
        return opened
    message, body, key_id, pem = opened
    try:
        envelope = envelope_from(message.data)
    except MalformedMessage as e:
        return _refuse(400, str(e), request)
    (result,) = inbox_apply_many(messages=[Received(envelope, body)], partner_key_id=key_id,
                                 partner_public_key_pem=pem, enabled=SiteConfiguration.load().is_enabled)
    return _respond(_answer(result, envelope, request))


@csrf_exempt  # authenticated by its HTTP message signature, not by a browser session
@require_POST
def inbox_batch(request: HttpRequest) -> JsonResponse:
    """Several messages from one partner in one signed request, each applied on its own, in order.

    What concerns the request (size, content type, recipient, sender, signature) refuses it
    whole; what concerns one message refuses only that message, with the status the single
    inbox would answer, in `results` (one per message, in the order sent).
    """
    opened = _open(request, BATCH_PATH, batch_decode,
                   lambda b: [i.envelope.synchronization_id for i in b.items if i.envelope is not None])
    if isinstance(opened, JsonResponse):
        return opened
    batch, _, key_id, pem = opened
    answers: list[_Answer | None] = []  # None: verified, to be applied with the others
    taken: list[Received] = []
    for item in batch.items:
        envelope = item.envelope
        if envelope is None:
            answers.append(_refused(400, item.error, request))
        elif envelope.recipient != batch.recipient:
            answers.append(_refused(421, f"this message is addressed to {envelope.recipient}, not to this site",
                                    request))
        elif envelope.sender != batch.sender:
            answers.append(_refused(403, "the message's sender is not the request's sender", request))
        else:
            answers.append(None)
            taken.append(Received(envelope, item.body))
    outcomes = inbox_apply_many(messages=taken, partner_key_id=key_id, partner_public_key_pem=pem,
                                enabled=SiteConfiguration.load().is_enabled)
    applied = iter(_answer(result, m.envelope, request) for m, result in zip(taken, outcomes, strict=True))
    done = [answer if answer is not None else next(applied) for answer in answers]
    results = [
        {"id": str(item.envelope.id) if item.envelope else None, "code": a.status, **a.data,
         **({"retry_after": 1} if a.status in RETRY_SOON else {})}
        for item, a in zip(batch.items, done, strict=True)
    ]
    return JsonResponse({"results": results})
