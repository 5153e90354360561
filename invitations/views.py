"""The public wire endpoints: discovery, and the inbox partners post signed messages to."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from invitations import signing
from invitations.directory import SiteDirectory
from invitations.discovery import DISCOVERY_CACHE_SECONDS, DiscoveryError, discovery_document, partner_discover
from invitations.keys import key_id_prefix, load_public_key
from invitations.messages import (
    BATCH_PATH,
    INBOX_PATH,
    REGISTRY,
    Envelope,
    MalformedMessage,
    batch_decode,
    envelope_decode,
)
from invitations.models import InboundMessage
from jira.models import SiteConfiguration
from synchronizations.models import Synchronization
from synchronizations.services import MessageRefused, message_apply

log = logging.getLogger(__name__)

RETRY_SOON = (425, 503)  # answered with Retry-After: 1


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


def _open(request: HttpRequest, decode: Callable[[bytes], _Decoded]) -> JsonResponse | tuple[_Decoded, bytes, str]:
    """What both inboxes check before trusting a key: the request, its body, who sends it to whom.

    Gives the decoded body, its raw bytes (the digest and signature are checked on exactly
    these) and the key id that signed it; or the refusal.
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
    return decoded, body, key_id


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


def _trusted_key(
    envelope: Envelope, sync: Synchronization | None, key_id: str, request: HttpRequest,
    invited: dict[uuid.UUID, str] | None = None,
) -> _Answer | str:
    """The public key (PEM) that may sign this message, or the refusal.

    The one pinned on the synchronization; for a new invitation, the key the sender
    publishes at its own discovery address; in a batch, a message that follows its
    synchronization's invitation is checked with the invitation's key.
    """
    if sync is not None:
        if sync.partner_address != envelope.sender:
            return _refused(403, "the sender is not this synchronization's partner", request)
        if key_id != sync.partner_key_id:
            return _refused(401, "the signing key is not the one pinned for this synchronization", request)
        return sync.partner_public_key_pem
    if REGISTRY[envelope.type].creates_synchronization:
        # No shortcut for a repeated invitation here: nothing is acknowledged
        # before its signature is verified (message_apply dedupes after that).
        # A burst of invitations from one partner costs one discovery fetch, not one
        # each; a key id other than the remembered one is fetched again, so a key the
        # partner changed is seen at once.
        try:
            partner = partner_discover(envelope.sender, max_age=DISCOVERY_CACHE_SECONDS)
            if partner.key_id != key_id:
                partner = partner_discover(envelope.sender)
        except DiscoveryError as e:
            return _refused(503, f"the sender's key could not be fetched: {e}", request)
        if partner.key_id != key_id:
            return _refused(401, "the signing key is not the one the sender publishes", request)
        if invited is not None:
            invited[envelope.synchronization_id] = partner.public_key_pem
        return partner.public_key_pem
    if invited and envelope.synchronization_id in invited:
        return invited[envelope.synchronization_id]  # message_apply answers 425 if the invitation did not apply
    # Retryable, like a gap in the sequence: the invitation may still be on its way.
    return _refused(425, "unknown synchronization: waiting for its invitation", request)


def _receive(
    envelope: Envelope, body: bytes, key_id: str, pem: str, *, known: bool, enabled: bool, request: HttpRequest,
) -> _Answer:
    """Apply one verified message; `known`: its synchronization existed when the request came."""
    if not enabled:
        if not known:
            return _refused(403, "Issue Sync is not active on this site", request)
        return _refused(503, "Issue Sync is switched off on this site for now", request)
    try:
        outcome = message_apply(envelope=envelope, body=body, partner_key_id=key_id, partner_public_key_pem=pem)
    except MessageRefused as e:
        return _refused(e.status, str(e), request)
    except IntegrityError:
        # The same message applied by a concurrent request: it won, we acknowledge.
        if InboundMessage.objects.filter(pk=envelope.id).exists():
            return _Answer(200, {"status": "duplicate"})
        return _refused(409, "a concurrent change got in the way; try again", request)
    return _Answer(200, {"status": outcome})


def _verify(request: HttpRequest, path: str, body: bytes, key_id: str, pem: str) -> JsonResponse | None:
    try:
        signing.verify(request.method or "POST", settings.SITE_ADDRESS + path, request.headers, body,
                       key_id, load_public_key(pem))
    except signing.SignatureRefused as e:
        return _refuse(401, str(e), request)
    return None


@csrf_exempt  # authenticated by its HTTP message signature, not by a browser session
@require_POST
def inbox(request: HttpRequest) -> JsonResponse:
    opened = _open(request, envelope_decode)
    if isinstance(opened, JsonResponse):
        return opened
    envelope, body, key_id = opened
    sync = Synchronization.objects.filter(pk=envelope.synchronization_id).first()
    pem = _trusted_key(envelope, sync, key_id, request)
    if isinstance(pem, _Answer):
        return _respond(pem)
    refusal = _verify(request, INBOX_PATH, body, key_id, pem)
    if refusal is not None:
        return refusal
    enabled = SiteConfiguration.load().is_enabled
    return _respond(_receive(envelope, body, key_id, pem, known=sync is not None, enabled=enabled, request=request))


@csrf_exempt  # authenticated by its HTTP message signature, not by a browser session
@require_POST
def inbox_batch(request: HttpRequest) -> JsonResponse:
    """Several messages from one partner in one signed request, each applied on its own, in order.

    What concerns the request (size, content type, signature, recipient, sender) refuses it
    whole; what concerns one message refuses only that message, with the status the single
    inbox would answer, in `results` (one per message, in the order sent).
    """
    opened = _open(request, batch_decode)
    if isinstance(opened, JsonResponse):
        return opened
    batch, body, key_id = opened

    envelopes = [item.envelope for item in batch.items if item.envelope is not None]
    syncs = {s.pk: s for s in Synchronization.objects.filter(pk__in={e.synchronization_id for e in envelopes})}
    invited: dict[uuid.UUID, str] = {}
    checked: list[_Answer | str] = []
    for item in batch.items:
        envelope = item.envelope
        if envelope is None:
            checked.append(_refused(400, item.error, request))
        elif envelope.recipient != batch.recipient:
            checked.append(_refused(421, f"this message is addressed to {envelope.recipient}, not to this site",
                                    request))
        elif envelope.sender != batch.sender:
            checked.append(_refused(403, "the message's sender is not the request's sender", request))
        else:
            checked.append(_trusted_key(envelope, syncs.get(envelope.synchronization_id), key_id, request, invited))

    # One sender, one key: the signature is checked once, with the key the messages name.
    pem = next((p for p in checked if isinstance(p, str)), None)
    enabled = False
    if pem is not None:
        refusal = _verify(request, BATCH_PATH, body, key_id, pem)
        if refusal is not None:
            return refusal
        enabled = SiteConfiguration.load().is_enabled
    answers: list[_Answer] = []
    for item, check in zip(batch.items, checked, strict=True):
        if isinstance(check, _Answer):
            answers.append(check)
        elif check != pem:
            answers.append(_refused(401, "the signing key is not the one pinned for this synchronization", request))
        else:
            assert item.envelope is not None
            known = item.envelope.synchronization_id in syncs
            answers.append(_receive(item.envelope, item.body, key_id, check, known=known, enabled=enabled,
                                    request=request))
    results = [
        {"id": str(item.envelope.id) if item.envelope else None, "code": a.status, **a.data,
         **({"retry_after": 1} if a.status in RETRY_SOON else {})}
        for item, a in zip(batch.items, answers, strict=True)
    ]
    return JsonResponse({"results": results})
