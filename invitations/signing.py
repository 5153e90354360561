"""RFC 9421 HTTP Message Signatures with Ed25519, made and checked by `http-message-signatures`.

Both ends use the same canonical @target-uri: the recipient's public address
plus the path (`https://beta.atlassian.net/...`), never the local URL the
request really travels to. The signature covers method, target URI,
Content-Digest and `created`, with a key id, a nonce and our tag.
"""
from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass, field
from typing import Any

import http_sf
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, InvalidSignature, MappingKeyResolver
from http_message_signatures.algorithms import ED25519
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from requests.structures import CaseInsensitiveDict

from invitations.keys import site_private_key

SIGNATURE_TAG = "issue-sync"
COVERED = ("@method", "@target-uri", "content-digest")


class SignatureRefused(Exception):
    pass


@dataclass
class _Message:
    method: str
    url: str
    headers: CaseInsensitiveDict[str] = field(default_factory=CaseInsensitiveDict)


def sign(
    method: str, target_uri: str, body: bytes, headers: dict[str, str], *, created: datetime.datetime | None = None
) -> dict[str, str]:
    """Return `headers` plus Content-Digest, Signature-Input and Signature.

    `created` defaults to now; tests pass another time to show stale and future signatures are refused.
    """
    key_id, private_key = site_private_key()
    msg = _Message(method.upper(), target_uri, CaseInsensitiveDict(headers))
    signer = HTTPMessageSigner(
        signature_algorithm=ED25519, key_resolver=MappingKeyResolver(public_keys={}, private_keys={key_id: private_key})
    )
    signer.sign(
        msg,
        key_id=key_id,
        created=created,
        nonce=secrets.token_urlsafe(16),
        tag=SIGNATURE_TAG,
        label="issuesync",
        covered_component_ids=COVERED,
        body=body,
    )
    return dict(msg.headers)


def signature_key_id(headers: Any) -> str:
    """The key id named by the request's Signature-Input, before anything is verified."""
    value = headers.get("Signature-Input")
    if not value:
        raise SignatureRefused("the request is not signed")
    try:
        parsed = http_sf.parse(value.encode(), tltype="dictionary")
    except Exception as e:
        raise SignatureRefused("the Signature-Input header is malformed") from e
    if not isinstance(parsed, dict) or len(parsed) != 1:
        raise SignatureRefused("exactly one signature is expected")
    member: Any = next(iter(parsed.values()))
    key_id = member[1].get("keyid") if isinstance(member, tuple) and isinstance(member[1], dict) else None
    if not isinstance(key_id, str):
        raise SignatureRefused("the signature names no key id")
    return key_id


class _Verifier(HTTPMessageVerifier):
    def __init__(self, skew: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_clock_skew = datetime.timedelta(seconds=skew)


def verify(method: str, target_uri: str, headers: Any, body: bytes, key_id: str, public_key: Ed25519PublicKey) -> str:
    """Check the signature with the one key we trust for this sender; return its nonce."""
    msg = _Message(method.upper(), target_uri, CaseInsensitiveDict(dict(headers)))
    verifier = _Verifier(
        settings.SIGNATURE_MAX_SKEW_SECONDS,
        signature_algorithm=ED25519,
        key_resolver=MappingKeyResolver(public_keys={key_id: public_key}, private_keys={}),
    )
    try:
        results = verifier.verify(
            msg,
            max_age=datetime.timedelta(seconds=settings.SIGNATURE_MAX_AGE_SECONDS),
            expect_tag=SIGNATURE_TAG,
            require_components=COVERED,
            body=body,
        )
    except (InvalidSignature, HTTPMessageSignaturesException) as e:
        raise SignatureRefused(f"bad signature: {e}") from e
    if len(results) != 1 or results[0].parameters.get("keyid") != key_id:
        raise SignatureRefused("bad signature: the key id does not match")
    return str(results[0].nonce or "")
