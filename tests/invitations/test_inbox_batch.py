"""The batch inbox: one signature for the request, each message applied or refused on its own, in order.

As in test_inbox_refusals, the partner's requests are signed here with its own key.
"""
from __future__ import annotations

import json
import uuid
from typing import Any
from unittest import mock

import pytest
from django.db import IntegrityError, connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from invitations.messages import BATCH_PATH, batch_encode
from invitations.models import InboundMessage, Link, LinkStream
from jira.models import SiteConfiguration
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
from tests.invitations.test_inbox_refusals import Snapshot, discovered

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inbox_site")]


def _sync(key: PartnerKey) -> Synchronization:
    return synchronization(partner_key=key, status=InvitationStatus.INVITATION_SENT, last_received_sequence=0)


def send_batch(client: Client, key: PartnerKey, messages: list[bytes], *, recipient: str = ALPHA,
               target_uri: str = ALPHA + BATCH_PATH) -> Any:
    body = batch_encode(sender=key.address, recipient=recipient, bodies=messages)
    headers = {k: v for k, v in key.sign(body, target_uri=target_uri).items() if k.lower() != "content-type"}
    return client.post(BATCH_PATH, data=body, content_type="application/json", headers=headers)


def codes(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [r["code"] for r in response.json()["results"]]


def test_it_applies_each_message_of_a_batch_in_the_order_sent(client: Client, key: PartnerKey) -> None:
    sync = _sync(key)
    accept = envelope(type="accept", synchronization_id=sync.pk, sequence=1)
    delete = envelope(type="delete", synchronization_id=sync.pk, sequence=2)
    r = send_batch(client, key, [encoded(accept), encoded(delete)])
    assert [(x["code"], x["status"], x["id"]) for x in r.json()["results"]] == [
        (200, "applied", str(accept.id)), (200, "applied", str(delete.id))]
    assert lifecycle(sync).last_received == 2
    # The stored bytes of each message are the ones its sender stored and sent.
    assert bytes(InboundMessage.objects.get(pk=delete.id).body) == encoded(delete)


def test_one_refused_message_does_not_stop_the_others(client: Client, key: PartnerKey) -> None:
    ours, other_key = _sync(key), _sync(PartnerKey(BETA))
    first = envelope(type="accept", synchronization_id=ours.pk, sequence=1)
    gap = envelope(type="delete", synchronization_id=ours.pk, sequence=3)
    not_pinned = envelope(type="accept", synchronization_id=other_key.pk, sequence=1)
    unknown = envelope(type="accept", synchronization_id=uuid.uuid4(), sequence=1)
    elsewhere = envelope(type="delete", synchronization_id=ours.pk, sequence=2, recipient=GAMMA)
    not_applicable = envelope(type="accept", synchronization_id=ours.pk, sequence=2)  # accept twice
    malformed = json.dumps({"id": "not a uuid"}).encode()
    r = send_batch(client, key, [encoded(first), encoded(gap), encoded(not_pinned), encoded(unknown),
                                 encoded(elsewhere), malformed, encoded(not_applicable)])
    assert codes(r) == [200, 425, 401, 425, 421, 400, 422]
    results = r.json()["results"]
    assert results[1]["retry_after"] == 1 and "waiting for message #2" in results[1]["error"]
    assert "not the one pinned" in results[2]["error"]
    assert results[5]["id"] is None and "not valid" in results[5]["error"]
    # The one that does not apply is recorded as refused (its sequence used); nothing else is recorded.
    assert dict(InboundMessage.objects.values_list("id", "outcome")) == {first.id: "applied",
                                                                        not_applicable.id: "refused"}
    assert lifecycle(other_key).last_received == 0


def test_a_repeated_message_in_a_later_batch_is_a_duplicate(client: Client, key: PartnerKey) -> None:
    sync = _sync(key)
    accept = envelope(type="accept", synchronization_id=sync.pk, sequence=1)
    assert codes(send_batch(client, key, [encoded(accept)])) == [200]
    delete = envelope(type="delete", synchronization_id=sync.pk, sequence=2)
    r = send_batch(client, key, [encoded(accept), encoded(delete)])
    assert [x["status"] for x in r.json()["results"]] == ["duplicate", "applied"]


def test_an_invitation_and_what_follows_it_apply_in_one_batch(client: Client, key: PartnerKey) -> None:
    invite = invitation()
    follow = envelope(type="delete", synchronization_id=invite.synchronization_id, sequence=2)
    with discovered(key):
        assert codes(send_batch(client, key, [encoded(invite), encoded(follow)])) == [200, 200]
    sync = Synchronization.objects.get(pk=invite.synchronization_id)
    assert sync.status == InvitationStatus.DELETED
    assert (Link.objects.get(pk=sync.pk).partner_key_id, lifecycle(sync).last_received) == (key.key_id, 2)


def _bookkeeping(queries: list[dict[str, str]]) -> tuple[int, int]:
    """The statements that read and that write the inbox's own tables (the records and the streams' counters)."""
    touching = [q["sql"] for q in queries
                if '"invitations_inboundmessage"' in q["sql"] or '"invitations_linkstream"' in q["sql"]]
    writes = [sql for sql in touching if sql.startswith(("INSERT", "UPDATE"))]
    return len(touching) - len(writes), len(writes)


@pytest.mark.parametrize("count", [2, 20])
def test_a_batch_reads_and_writes_the_bookkeeping_once_whatever_its_size(client: Client, key: PartnerKey,
                                                                         count: int) -> None:
    invites = [invitation() for _ in range(count)]
    follows = [envelope(type="delete", synchronization_id=i.synchronization_id, sequence=2) for i in invites]
    bodies = [encoded(m) for pair in zip(invites, follows, strict=True) for m in pair]
    with discovered(key), CaptureQueriesContext(connection) as queries:
        assert codes(send_batch(client, key, bodies)) == [200] * 2 * count
    # The duplicates and the counters are read once, the records and the counters written once.
    assert _bookkeeping(queries.captured_queries) == (2, 2)
    assert InboundMessage.objects.count() == 2 * count
    assert sorted(LinkStream.objects.values_list("last_received", flat=True)) == [2] * count
    assert set(Synchronization.objects.values_list("status", flat=True)) == {InvitationStatus.DELETED}


def test_the_same_message_twice_in_one_batch_applies_once(client: Client, key: PartnerKey) -> None:
    sync = _sync(key)
    accept = envelope(type="accept", synchronization_id=sync.pk, sequence=1)
    delete = envelope(type="delete", synchronization_id=sync.pk, sequence=2)
    r = send_batch(client, key, [encoded(accept), encoded(accept), encoded(delete)])
    assert [(x["code"], x["status"]) for x in r.json()["results"]] == [
        (200, "applied"), (200, "duplicate"), (200, "applied")]
    assert (InboundMessage.objects.count(), lifecycle(sync).last_received) == (2, 2)


def test_a_batch_that_meets_a_concurrent_write_is_applied_one_by_one_and_once(client: Client,
                                                                             key: PartnerKey) -> None:
    # A concurrent request created the invitation's link first: the batch's transaction is rolled back
    # whole, and its messages are applied again one by one, the ones before it exactly once.
    sync = _sync(key)
    accept = envelope(type="accept", synchronization_id=sync.pk, sequence=1)
    invite = invitation()
    create = Link.objects.create
    calls: list[object] = []

    def conflict_once(**kwargs: object) -> Link:
        calls.append(kwargs["id"])
        if len(calls) == 1:
            raise IntegrityError("duplicate key value violates unique constraint")
        return create(**kwargs)

    with discovered(key), mock.patch.object(Link.objects, "create", side_effect=conflict_once):
        r = send_batch(client, key, [encoded(accept), encoded(invite)])
    assert [(x["code"], x["status"]) for x in r.json()["results"]] == [(200, "applied"), (200, "applied")]
    assert calls == [invite.synchronization_id, invite.synchronization_id]
    sync.refresh_from_db()
    assert sync.status == InvitationStatus.NOT_CONFIGURED
    assert (lifecycle(sync).last_received, InboundMessage.objects.count()) == (1, 2)
    assert Synchronization.objects.filter(pk=invite.synchronization_id).exists()


def test_an_invitation_signed_with_a_key_the_sender_does_not_publish_is_refused(client: Client) -> None:
    published, other = PartnerKey(BETA), PartnerKey(BETA)
    invite = invitation()
    before = Snapshot()
    with discovered(published):
        assert send_batch(client, other, [encoded(invite)]).status_code == 425  # fetched again for this key id
        r = send_batch(client, other, [encoded(invite)])
    assert r.status_code == 401 and "not the one the sender publishes" in r.json()["error"]
    before.assert_unchanged()


def test_an_unsigned_or_badly_signed_batch_naming_unknown_synchronizations_is_401(client: Client,
                                                                                 key: PartnerKey) -> None:
    # Nothing answers 2xx, nor tells which synchronizations exist, before the signature is verified.
    unknown = [encoded(envelope(type="delete", synchronization_id=uuid.uuid4(), sequence=2)) for _ in range(3)]
    body = batch_encode(sender=BETA, recipient=ALPHA, bodies=unknown)
    before = Snapshot()
    unsigned = client.post(BATCH_PATH, data=body, content_type="application/json")
    assert (unsigned.status_code, unsigned.json()["error"]) == (401, "the request is not signed")
    with discovered(key):
        forged = dict(key.sign(body, target_uri=ALPHA + BATCH_PATH), Signature="issuesync=:" + "A" * 86 + "==:")
        r = client.post(BATCH_PATH, data=body, content_type="application/json",
                        headers={k: v for k, v in forged.items() if k.lower() != "content-type"})
        assert r.status_code == 401 and "bad signature" in r.json()["error"]
        # Signed as it should be, the same batch is answered per message: each waits for its invitation.
        assert codes(send_batch(client, key, unknown)) == [425, 425, 425]
    before.assert_unchanged()


@pytest.mark.parametrize("change", ["signature", "path", "recipient", "sender"])
def test_what_concerns_the_request_refuses_it_whole(client: Client, key: PartnerKey, change: str) -> None:
    sync = _sync(key)
    good = encoded(envelope(type="accept", synchronization_id=sync.pk, sequence=1))
    before = Snapshot()
    if change == "signature":
        r = send_batch(client, PartnerKey(BETA, key_id=key.key_id), [good])
        expected = (401, "bad signature")
    elif change == "path":
        r = send_batch(client, key, [good], target_uri=ALPHA + "/wire/v1/messages")
        expected = (401, "bad signature")
    elif change == "recipient":
        r = send_batch(client, key, [good], recipient=GAMMA)
        expected = (421, "addressed to")
    else:
        r = send_batch(client, PartnerKey(GAMMA), [encoded(envelope(type="accept", synchronization_id=sync.pk,
                                                                    sequence=1, sender=GAMMA))])
        expected = (403, "not a site this server knows")
    assert (r.status_code, expected[1] in r.json()["error"]) == (expected[0], True)
    before.assert_unchanged()


def test_a_message_from_another_sender_than_the_request_is_refused(client: Client, key: PartnerKey) -> None:
    sync = _sync(key)
    r = send_batch(client, key, [encoded(envelope(type="accept", synchronization_id=sync.pk, sequence=1,
                                                  sender=GAMMA))])
    assert codes(r) == [403]


def test_an_empty_or_oversized_batch_is_refused(client: Client, key: PartnerKey) -> None:
    assert send_batch(client, key, []).status_code == 400
    sync = _sync(key)
    many = [encoded(envelope(type="accept", synchronization_id=sync.pk, sequence=1))] * 101
    assert send_batch(client, key, many).status_code == 400
    with override_settings(INBOUND_MAX_BODY_BYTES=100):
        assert send_batch(client, key, many[:1]).status_code == 413


def test_a_site_switched_off_answers_each_message_retry_later(client: Client, key: PartnerKey) -> None:
    sync = _sync(key)
    SiteConfiguration.objects.update_or_create(pk=1, defaults={"issue_sync_active": False})
    r = send_batch(client, key, [encoded(envelope(type="accept", synchronization_id=sync.pk, sequence=1))])
    assert codes(r) == [503]
    assert not InboundMessage.objects.exists()


