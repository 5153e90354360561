"""The inbox refuses every message it cannot trust or apply: a 4xx JSON error, a logged reason, nothing changed.

The partner cannot run in-process, so its requests are signed here with its
own Ed25519 key through `invitations.signing.sign`; for invitations only the
transport is patched, answering the discovery document the partner publishes.
"""
from __future__ import annotations

import datetime
import json
import logging
import types
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from invitations import tasks, transport
from invitations.discovery import partner_key_fetch
from invitations.messages import INBOX_PATH, Envelope
from invitations.models import InboundMessage, Link, LinkStream
from synchronizations.models import Synchronization
from synchronizations.states import InvitationStatus
from tests.factories import (
    ALPHA,
    BETA,
    GAMMA,
    PartnerKey,
    encoded,
    envelope,
    invitation,
    lifecycle,
    synchronization,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inbox_site")]


@pytest.fixture
def sync(key: PartnerKey) -> Synchronization:
    # alpha invited beta, which has sent nothing yet: beta's next message to alpha is #1.
    return synchronization(partner_key=key, status=InvitationStatus.INVITATION_SENT,
                                  last_received_sequence=0)


def post(client: Client, body: bytes, headers: dict[str, str]) -> Any:
    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    return client.post(INBOX_PATH, data=body, content_type="application/json", headers=headers)


def send(client: Client, key: PartnerKey, env: Envelope, **sign: Any) -> Any:
    body = encoded(env)
    return post(client, body, key.sign(body, **sign))


def published(key: PartnerKey) -> transport.Response:
    """The discovery document the partner publishes with `key`."""
    return transport.Response(200, json.dumps({
        "address": key.address, "name": "beta", "app": {"name": "Issue Sync Pro", "installed": True, "active": True},
        "protocol_version": 1, "inbox": INBOX_PATH,
        "public_key": {"key_id": key.key_id, "algorithm": "ed25519", "pem": key.pem},
    }).encode())


@contextmanager
def discovered(key: PartnerKey) -> Iterator[None]:
    """The partner publishes `key`, and this site has fetched it; a fetch the inbox asks for runs at once.

    The inbox never fetches while a partner waits (it asks the worker and answers 425):
    here the worker's task runs inline, as soon as the inbox rings for it.
    """
    def ring(address: str, key_id: str = "") -> None:
        tasks.fetch_discovery(address, key_id)

    with mock.patch.object(transport, "request", side_effect=lambda *a, **kw: published(key)), \
            mock.patch.object(tasks.fetch_discovery, "delay", side_effect=ring):
        partner_key_fetch(key.address)
        yield


class Snapshot:
    """What must not change when a message is refused."""

    def __init__(self) -> None:
        self.syncs = sorted(Synchronization.objects.values_list("id", "status"))
        self.streams = sorted(LinkStream.objects.values_list("link_id", "stream", "last_received"))
        self.inbound = InboundMessage.objects.count()

    def assert_unchanged(self) -> None:
        assert sorted(Synchronization.objects.values_list("id", "status")) == self.syncs
        assert sorted(LinkStream.objects.values_list("link_id", "stream", "last_received")) == self.streams
        assert InboundMessage.objects.count() == self.inbound


def assert_refused(response: Any, status: int, error: str, before: Snapshot, caplog: pytest.LogCaptureFixture) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert error in response.json()["error"]
    before.assert_unchanged()
    refusals = [r for r in caplog.records if r.levelno == logging.WARNING and "refused inbound message" in r.message]
    assert refusals and error in refusals[-1].message


@pytest.fixture
def accept(sync: Synchronization) -> Envelope:
    return envelope(type="accept", synchronization_id=sync.pk, sequence=1)


def test_it_applies_a_properly_signed_message(client: Client, key: PartnerKey, accept: Envelope,
                                              sync: Synchronization) -> None:
    # The control for every refusal below: the same request, untouched, is applied.
    r = send(client, key, accept)
    assert r.status_code == 200, r.content
    assert r.json() == {"status": "applied"}
    sync.refresh_from_db()
    assert sync.status == InvitationStatus.NOT_CONFIGURED
    assert InboundMessage.objects.filter(pk=accept.id).count() == 1


def test_it_refuses_an_unsigned_message(client: Client, accept: Envelope, caplog: pytest.LogCaptureFixture) -> None:
    before = Snapshot()
    r = post(client, encoded(accept), {})
    assert_refused(r, 401, "the request is not signed", before, caplog)


def test_it_refuses_a_badly_signed_message(client: Client, key: PartnerKey, accept: Envelope,
                                           caplog: pytest.LogCaptureFixture) -> None:
    body = encoded(accept)
    headers = key.sign(body)
    headers["Signature"] = "issuesync=:" + "A" * 86 + "==:"
    before = Snapshot()
    assert_refused(post(client, body, headers), 401, "bad signature", before, caplog)


def test_it_refuses_a_tampered_body(client: Client, key: PartnerKey, accept: Envelope,
                                    caplog: pytest.LogCaptureFixture) -> None:
    headers = key.sign(encoded(accept))
    tampered = envelope(type="accept", synchronization_id=accept.synchronization_id, sequence=1,
                        message_id=accept.id, payload={"visible": {"projects": [{"key": "X", "name": "Evil"}],
                                                                   "issue_types": []}})
    before = Snapshot()
    assert_refused(post(client, encoded(tampered), headers), 401, "bad signature", before, caplog)


def test_it_refuses_a_signature_made_for_another_path(client: Client, key: PartnerKey, accept: Envelope,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    before = Snapshot()
    r = send(client, key, accept, target_uri=ALPHA + "/wire/v1/elsewhere")
    assert_refused(r, 401, "bad signature", before, caplog)


def test_it_refuses_a_signature_made_for_another_site(client: Client, key: PartnerKey, accept: Envelope,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    before = Snapshot()
    r = send(client, key, accept, target_uri=GAMMA + INBOX_PATH)
    assert_refused(r, 401, "bad signature", before, caplog)


def test_it_refuses_a_signature_made_for_another_method(client: Client, key: PartnerKey, accept: Envelope,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    before = Snapshot()
    r = send(client, key, accept, method="PUT")
    assert_refused(r, 401, "bad signature", before, caplog)


def test_it_refuses_a_signature_older_than_five_minutes(client: Client, key: PartnerKey, accept: Envelope,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    before = Snapshot()
    r = send(client, key, accept, created=timezone.now() - datetime.timedelta(minutes=6))
    assert_refused(r, 401, "age exceeds", before, caplog)


def test_it_accepts_a_signature_a_little_under_five_minutes_old(client: Client, key: PartnerKey,
                                                                accept: Envelope) -> None:
    r = send(client, key, accept, created=timezone.now() - datetime.timedelta(minutes=4, seconds=30))
    assert r.status_code == 200, r.content


def test_it_refuses_a_signature_from_the_future_beyond_the_skew(client: Client, key: PartnerKey, accept: Envelope,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    before = Snapshot()
    r = send(client, key, accept, created=timezone.now() + datetime.timedelta(minutes=2))
    assert_refused(r, 401, "in the future", before, caplog)


def test_it_accepts_a_clock_a_few_seconds_ahead(client: Client, key: PartnerKey, accept: Envelope) -> None:
    r = send(client, key, accept, created=timezone.now() + datetime.timedelta(seconds=5))
    assert r.status_code == 200, r.content


def test_it_refuses_a_key_that_is_not_the_pinned_one(client: Client, accept: Envelope,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    # Same sender, a valid key id on beta's own discovery address, but not the key pinned at invitation time.
    other = PartnerKey(BETA)
    before = Snapshot()
    with discovered(PartnerKey(BETA)):  # beta publishes neither: fetched again for this key id, then refused
        assert_refused(send(client, other, accept), 425, "being fetched", before, caplog)
        assert_refused(send(client, other, accept), 401, "not the one the sender publishes", before, caplog)
    with discovered(other):  # beta publishes it now: the signature is good, but the synchronization pins another
        assert_refused(send(client, other, accept), 401, "not the one pinned", before, caplog)


def test_it_refuses_a_key_id_on_another_origin(client: Client, accept: Envelope,
                                               caplog: pytest.LogCaptureFixture) -> None:
    foreign = PartnerKey(GAMMA)
    before = Snapshot()
    assert_refused(send(client, foreign, accept), 401, "does not belong to the sender", before, caplog)


def test_it_refuses_a_sender_not_in_the_directory(client: Client, sync: Synchronization,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    stranger = PartnerKey(GAMMA)
    env = envelope(type="delete", synchronization_id=sync.pk, sequence=1, sender=GAMMA)
    before = Snapshot()
    assert_refused(send(client, stranger, env), 403, "is not a site this server knows", before, caplog)


def test_it_refuses_an_invitation_addressed_to_another_site(client: Client, key: PartnerKey,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    env = invitation(recipient=GAMMA)
    before = Snapshot()
    with discovered(key):
        r = send(client, key, env, target_uri=GAMMA + INBOX_PATH)
    assert_refused(r, 421, f"addressed to {GAMMA}", before, caplog)


def test_it_refuses_an_invitation_signed_with_a_key_beta_does_not_publish(
    client: Client, key: PartnerKey, caplog: pytest.LogCaptureFixture
) -> None:
    before = Snapshot()
    with discovered(PartnerKey(BETA)):
        assert_refused(send(client, key, invitation()), 425, "being fetched", before, caplog)
        r = send(client, key, invitation())
    assert_refused(r, 401, "not the one the sender publishes", before, caplog)


def test_it_receives_an_invitation_and_pins_the_senders_key(client: Client, key: PartnerKey) -> None:
    env = invitation()
    with discovered(key):
        r = send(client, key, env)
    assert r.status_code == 200, r.content
    sync = Synchronization.objects.get(pk=env.synchronization_id)
    assert sync.status == InvitationStatus.INVITATION_RECEIVED
    link = Link.objects.get(pk=sync.pk)
    assert (link.partner_key_id, link.partner_public_key_pem) == (key.key_id, key.pem)


def test_it_refuses_malformed_json(client: Client, key: PartnerKey, caplog: pytest.LogCaptureFixture) -> None:
    body = b'{"id": "not json'
    before = Snapshot()
    assert_refused(post(client, body, key.sign(body)), 400, "not valid JSON", before, caplog)


def test_it_refuses_an_envelope_that_misses_fields(client: Client, key: PartnerKey,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    body = b'{"type": "accept"}'
    before = Snapshot()
    assert_refused(post(client, body, key.sign(body)), 400, "names no sender or no recipient", before, caplog)
    body = json.dumps({"type": "accept", "sender": BETA, "recipient": ALPHA}).encode()
    with discovered(key):
        assert_refused(post(client, body, key.sign(body)), 400, "the message is not valid", before, caplog)


def test_it_refuses_a_body_over_the_size_cap(client: Client, key: PartnerKey, sync: Synchronization,
                                             caplog: pytest.LogCaptureFixture) -> None:
    env = envelope(type="accept", synchronization_id=sync.pk, sequence=1,
                   payload={"visible": {"projects": [{"key": f"P{i}", "name": "x" * 100} for i in range(30)],
                                        "issue_types": []}})
    before = Snapshot()
    with override_settings(INBOUND_MAX_BODY_BYTES=2048):
        assert_refused(send(client, key, env), 413, "larger than the size cap", before, caplog)


def test_a_message_for_an_unknown_synchronization_waits_for_its_invitation(
    client: Client, key: PartnerKey, caplog: pytest.LogCaptureFixture
) -> None:
    # Retryable, like any gap in the sequence: the invitation that creates the record may still be on
    # its way. The sender keeps retrying until its give-up time, then shows the error.
    # Told only once the signature is verified, with the key the sender publishes.
    env = envelope(type="delete", synchronization_id=uuid.uuid4(), sequence=2)
    before = Snapshot()
    with discovered(key):
        response = send(client, key, env)
    assert_refused(response, 425, "unknown synchronization: waiting for its invitation", before, caplog)
    assert response["Retry-After"] == "1"


@pytest.mark.parametrize("known", [True, False])
def test_an_unverified_message_is_401_whether_its_synchronization_exists_or_not(
    client: Client, key: PartnerKey, sync: Synchronization, known: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # No oracle: an unsigned or wrongly signed request learns nothing about which ids exist.
    env = envelope(type="delete", synchronization_id=sync.pk if known else uuid.uuid4(), sequence=1)
    before = Snapshot()
    assert_refused(post(client, encoded(env), {}), 401, "the request is not signed", before, caplog)
    with discovered(key):
        other = PartnerKey(BETA)
        assert_refused(send(client, other, env), 425, "being fetched", before, caplog)
        assert_refused(send(client, other, env), 401, "not the one the sender publishes", before, caplog)
        body = encoded(env)
        forged = dict(key.sign(body), Signature="issuesync=:" + "A" * 86 + "==:")
        assert_refused(post(client, body, forged), 401, "bad signature", before, caplog)


def test_an_unknown_kind_of_message_is_refused_with_a_4xx(client: Client, key: PartnerKey, sync: Synchronization,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    env = envelope(type="issue_teleported", synchronization_id=sync.pk, sequence=1)
    before = Snapshot()
    assert_refused(send(client, key, env), 400, "is not a kind of message this site knows", before, caplog)


def test_it_refuses_a_message_that_does_not_apply_to_the_current_status(
    client: Client, key: PartnerKey, caplog: pytest.LogCaptureFixture
) -> None:
    sync = synchronization(partner_key=key, status=InvitationStatus.NOT_CONFIGURED, last_received_sequence=1)
    env = envelope(type="reject", synchronization_id=sync.pk, sequence=2)
    r = send(client, key, env)
    assert r.status_code == 422, r.content
    assert "does not apply to a synchronization that is Not configured" in r.json()["error"]
    # Refused for good, and recorded as such: the status stays, the sequence is used, the next message applies.
    sync.refresh_from_db()
    assert sync.status == InvitationStatus.NOT_CONFIGURED
    assert InboundMessage.objects.get(pk=env.id).outcome == "refused"
    assert lifecycle(sync).last_received == 2
    delete = envelope(type="delete", synchronization_id=sync.pk, sequence=3)
    assert send(client, key, delete).json() == {"status": "applied"}
    sync.refresh_from_db()
    assert sync.status == InvitationStatus.DELETED


def test_it_answers_a_sequence_gap_with_a_retryable_status(client: Client, key: PartnerKey, sync: Synchronization,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    env = envelope(type="accept", synchronization_id=sync.pk, sequence=2)
    before = Snapshot()
    r = send(client, key, env)
    assert_refused(r, 425, "waiting for message #1 first", before, caplog)
    assert r["Retry-After"]


def test_it_acknowledges_a_fresh_replay_and_applies_it_once(client: Client, key: PartnerKey, sync: Synchronization,
                                                            accept: Envelope) -> None:
    body = encoded(accept)
    headers = key.sign(body)
    first, replay = post(client, body, headers), post(client, body, headers)
    assert (first.status_code, first.json()) == (200, {"status": "applied"})
    assert (replay.status_code, replay.json()) == (200, {"status": "duplicate"})
    assert InboundMessage.objects.filter(pk=accept.id).count() == 1
    sync.refresh_from_db()
    assert (sync.status, lifecycle(sync).last_received) == (InvitationStatus.NOT_CONFIGURED, 1)


def _minutes_later(minutes: int) -> Any:
    """The verifier's clock, `minutes` from now: the same signed bytes replayed later."""
    class Later(datetime.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime.datetime.now(tz) + datetime.timedelta(minutes=minutes)

    fake = types.SimpleNamespace(datetime=Later, timezone=datetime.timezone, timedelta=datetime.timedelta)
    return mock.patch("http_message_signatures.signatures.datetime", fake)


def test_it_refuses_a_stale_replay(client: Client, key: PartnerKey, sync: Synchronization, accept: Envelope,
                                   caplog: pytest.LogCaptureFixture) -> None:
    body = encoded(accept)
    headers = key.sign(body)
    assert post(client, body, headers).status_code == 200
    before = Snapshot()
    with _minutes_later(6):
        assert_refused(post(client, body, headers), 401, "age exceeds", before, caplog)


def test_it_acknowledges_a_repeated_invitation_only_when_it_is_signed(client: Client, key: PartnerKey,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    env = invitation()
    body = encoded(env)
    headers = key.sign(body)
    with discovered(key):
        assert post(client, body, headers).json() == {"status": "applied"}
        assert post(client, body, headers).json() == {"status": "duplicate"}
        forged = dict(headers, Signature="issuesync=:" + "A" * 86 + "==:")
        before = Snapshot()
        assert_refused(post(client, body, forged), 401, "bad signature", before, caplog)
    assert InboundMessage.objects.filter(pk=env.id).count() == 1
