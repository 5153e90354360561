"""Model factories and a partner's key, for tests that cannot run the partner site in-process."""
from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import factory
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone

from invitations import signing
from invitations.keys import key_id_prefix, public_key_pem
from invitations.messages import INBOX_PATH, Envelope, envelope_encode
from synchronizations.models import Role, Scope, Synchronization
from synchronizations.states import InvitationStatus

ALPHA = "https://alpha.atlassian.net"
BETA = "https://beta.atlassian.net"
GAMMA = "https://gamma.atlassian.net"
EMPTY_VISIBLE: dict[str, list[Any]] = {"projects": [], "issue_types": []}


@dataclass
class PartnerKey:
    """An Ed25519 key the partner site would publish at its discovery address."""

    address: str = BETA
    private: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    key_id: str = ""

    def __post_init__(self) -> None:
        self.key_id = self.key_id or key_id_prefix(self.address) + uuid.uuid4().hex[:16]

    @property
    def pem(self) -> str:
        return public_key_pem(self.private.public_key())

    @contextmanager
    def signing(self) -> Iterator[None]:
        """`invitations.signing.sign` signs as the partner while this is active."""
        with mock.patch.object(signing, "site_private_key", return_value=(self.key_id, self.private)):
            yield

    def sign(self, body: bytes, *, method: str = "POST", target_uri: str = ALPHA + INBOX_PATH,
             created: datetime.datetime | None = None) -> dict[str, str]:
        with self.signing():
            return signing.sign(method, target_uri, body, {"Content-Type": "application/json"}, created=created)


class ScopeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Scope

    mode = Scope.Mode.SHOW_ALL


class SynchronizationFactory(factory.django.DjangoModelFactory):
    """This site (alpha) invited beta; pass `partner_key=` to pin a PartnerKey."""

    class Meta:
        model = Synchronization

    class Params:
        partner_key: PartnerKey | None = None

    name = factory.Sequence(lambda n: f"Synchronization {n}")
    partner_address = BETA
    role = Role.INVITER
    status = InvitationStatus.INVITATION_SENT
    scope = factory.SubFactory(ScopeFactory)
    partner_visible = factory.LazyFunction(lambda: dict(EMPTY_VISIBLE))
    partner_key_id = factory.LazyAttribute(lambda o: o.partner_key.key_id if o.partner_key else "unpinned")
    partner_public_key_pem = factory.LazyAttribute(lambda o: o.partner_key.pem if o.partner_key else "")
    last_sent_sequence = 1


def envelope(
    *, type: str, synchronization_id: uuid.UUID, sequence: int, sender: str = BETA, recipient: str = ALPHA,
    payload: dict[str, Any] | None = None, message_id: uuid.UUID | None = None,
) -> Envelope:
    if payload is None:
        payload = {"visible": dict(EMPTY_VISIBLE)} if type in ("accept", "scope_changed") else {}
    return Envelope(id=message_id or uuid.uuid4(), type=type, synchronization_id=synchronization_id,
                    sequence=sequence, sender=sender, recipient=recipient, created_at=timezone.now(),
                    payload=payload)


def invitation(*, synchronization_id: uuid.UUID | None = None, sender: str = BETA,
               recipient: str = ALPHA) -> Envelope:
    return envelope(type="invitation", synchronization_id=synchronization_id or uuid.uuid4(), sequence=1,
                    sender=sender, recipient=recipient,
                    payload={"name": "From beta", "sync_type": "cloud_to_cloud", "visible": dict(EMPTY_VISIBLE)})


def encoded(env: Envelope) -> bytes:
    return envelope_encode(env)


def synchronization(**kwargs: Any) -> Synchronization:
    """A typed shortcut for `SynchronizationFactory(...)`."""
    sync: Synchronization = SynchronizationFactory.create(**kwargs)
    return sync
