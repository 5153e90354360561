"""The public wire endpoints: discovery, and the inbox partners post signed messages to."""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from invitations import signing
from invitations.directory import SiteDirectory
from invitations.discovery import DISCOVERY_CACHE_SECONDS, DiscoveryError, discovery_document, partner_discover
from invitations.keys import key_id_prefix, load_public_key
from invitations.messages import INBOX_PATH, REGISTRY, MalformedMessage, envelope_decode
from invitations.models import InboundMessage
from jira.models import SiteConfiguration
from synchronizations.models import Synchronization
from synchronizations.services import MessageRefused, message_apply

log = logging.getLogger(__name__)


@require_GET
def discovery(request: HttpRequest) -> JsonResponse:
    return JsonResponse(discovery_document())


def _refuse(status: int, error: str, request: HttpRequest) -> JsonResponse:
    log.warning("refused inbound message from %s: %s (%s)", request.META.get("REMOTE_ADDR"), error, status)
    response = JsonResponse({"error": error}, status=status)
    if status in (425, 503):
        response["Retry-After"] = "1"
    return response


@csrf_exempt  # authenticated by its HTTP message signature, not by a browser session
@require_POST
def inbox(request: HttpRequest) -> JsonResponse:
    # Read the size from the header first, so an oversize body is never read whole.
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > settings.INBOUND_MAX_BODY_BYTES:
        return _refuse(413, "the body is larger than the size cap", request)
    body = request.body  # the raw bytes: the digest and signature are checked on exactly these
    if len(body) > settings.INBOUND_MAX_BODY_BYTES:
        return _refuse(413, "the body is larger than the size cap", request)
    if request.content_type != "application/json":
        return _refuse(415, "the body must be application/json", request)
    if "Signature-Input" not in request.headers or "Signature" not in request.headers:
        return _refuse(401, "the request is not signed", request)
    try:
        envelope = envelope_decode(body)
    except MalformedMessage as e:
        return _refuse(400, str(e), request)
    if envelope.recipient != settings.SITE_ADDRESS:
        return _refuse(421, f"this message is addressed to {envelope.recipient}, not to this site", request)
    if envelope.sender not in SiteDirectory.load() or envelope.sender == settings.SITE_ADDRESS:
        return _refuse(403, f"{envelope.sender} is not a site this server knows", request)
    try:
        key_id = signing.signature_key_id(request.headers)
    except signing.SignatureRefused as e:
        return _refuse(401, str(e), request)
    if not key_id.startswith(key_id_prefix(envelope.sender)):
        return _refuse(401, "the signing key does not belong to the sender", request)

    # Which key may sign this? The one pinned on the synchronization; for a new
    # invitation, the key the sender publishes at its own discovery address.
    sync = Synchronization.objects.filter(pk=envelope.synchronization_id).first()
    if sync is not None:
        if sync.partner_address != envelope.sender:
            return _refuse(403, "the sender is not this synchronization's partner", request)
        if key_id != sync.partner_key_id:
            return _refuse(401, "the signing key is not the one pinned for this synchronization", request)
        pem = sync.partner_public_key_pem
    elif REGISTRY[envelope.type].creates_synchronization:
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
            return _refuse(503, f"the sender's key could not be fetched: {e}", request)
        if partner.key_id != key_id:
            return _refuse(401, "the signing key is not the one the sender publishes", request)
        pem = partner.public_key_pem
    else:
        # Retryable, like a gap in the sequence: the invitation may still be on its way.
        return _refuse(425, "unknown synchronization: waiting for its invitation", request)

    try:
        signing.verify(request.method or "POST", settings.SITE_ADDRESS + INBOX_PATH, request.headers, body,
                       key_id, load_public_key(pem))
    except signing.SignatureRefused as e:
        return _refuse(401, str(e), request)

    config = SiteConfiguration.load()
    if not config.is_enabled:
        if sync is None:
            return _refuse(403, "Issue Sync is not active on this site", request)
        return _refuse(503, "Issue Sync is switched off on this site for now", request)
    try:
        outcome = message_apply(envelope=envelope, body=body, partner_key_id=key_id, partner_public_key_pem=pem)
    except MessageRefused as e:
        return _refuse(e.status, str(e), request)
    except IntegrityError:
        # The same message applied by a concurrent request: it won, we acknowledge.
        if InboundMessage.objects.filter(pk=envelope.id).exists():
            return JsonResponse({"status": "duplicate"})
        return _refuse(409, "a concurrent change got in the way; try again", request)
    return JsonResponse({"status": outcome})
