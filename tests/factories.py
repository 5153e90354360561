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
from invitations.kinds import LIFECYCLE
from invitations.messages import INBOX_PATH, Envelope, envelope_encode
from invitations.models import Link, LinkStream
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
        skip_postgeneration_save = True

    class Params:
        partner_key: PartnerKey | None = None
        last_sent_sequence = 1  # the link's lifecycle stream, kept by the wire (invitations.models.Link)
        last_received_sequence = 0

    name = factory.Sequence(lambda n: f"Synchronization {n}")
    partner_address = BETA
    role = Role.INVITER
    status = InvitationStatus.INVITATION_SENT
    scope = factory.SubFactory(ScopeFactory)
    partner_visible = factory.LazyFunction(lambda: dict(EMPTY_VISIBLE))
    link = factory.RelatedFactory(
        "tests.factories.LinkFactory", factory_related_name="sync",
        partner_address=factory.SelfAttribute("..partner_address"),
        partner_key_id=factory.LazyAttribute(
            lambda o: o.factory_parent.partner_key.key_id if o.factory_parent.partner_key else "unpinned"),
        partner_public_key_pem=factory.LazyAttribute(
            lambda o: o.factory_parent.partner_key.pem if o.factory_parent.partner_key else ""),
        last_sent=factory.SelfAttribute("..last_sent_sequence"),
        last_received=factory.SelfAttribute("..last_received_sequence"),
    )


def link_create(*, sync: Synchronization, partner_address: str, partner_key_id: str, partner_public_key_pem: str,
                last_sent: int, last_received: int) -> Link:
    link = Link.objects.create(id=sync.pk, partner_address=partner_address, partner_key_id=partner_key_id,
                               partner_public_key_pem=partner_public_key_pem)
    LinkStream.objects.create(link=link, stream=LIFECYCLE, last_sent=last_sent, last_received=last_received)
    return link


class LinkFactory(factory.Factory):
    """The wire's side of a synchronization made by SynchronizationFactory: its partner, key and counters."""

    class Meta:
        model = Link

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Link:
        return link_create(**kwargs)


def lifecycle(sync: Synchronization) -> LinkStream:
    """The synchronization's lifecycle stream: its last sent and received sequence."""
    return LinkStream.objects.select_related("link").get(link_id=sync.pk, stream=LIFECYCLE)


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
