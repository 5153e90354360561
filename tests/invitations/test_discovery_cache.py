"""The site keeps a partner's discovery in its database: a burst of invitations costs one fetch, made by the worker.

The inbox never fetches while the partner waits on it: a key it has not kept yet is asked of
the worker (here run inline when rung) and the sender is answered 425 with Retry-After.

The partner cannot run in-process: only the transport seam is patched, answering
the discovery document the partner would publish.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.core.cache import cache
from django.test import Client, override_settings

from invitations import tasks, transport
from invitations.discovery import DiscoveryError, partner_discover
from invitations.messages import INBOX_PATH
from invitations.models import Link, PartnerDocument
from tests.factories import ALPHA, BETA, PartnerKey, encoded, invitation

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _site() -> Iterator[None]:
    cache.clear()
    with override_settings(SITE_DIRECTORY="alpha.atlassian.net=http://127.0.0.1:9,beta.atlassian.net=http://127.0.0.1:9",
                           SITE_ADDRESS=ALPHA):
        yield
    cache.clear()


class Publishing:
    """beta's discovery endpoint, publishing `key`; counts the fetches."""

    def __init__(self, key: PartnerKey) -> None:
        self.key = key
        self.fetches = 0

    def __call__(self, method: str, address: str, path: str, **kwargs: Any) -> transport.Response:
        self.fetches += 1
        return transport.Response(200, json.dumps({
            "address": BETA, "name": "beta", "app": {"name": "Issue Sync Pro", "installed": True, "active": True},
            "protocol_version": 1, "inbox": INBOX_PATH,
            "public_key": {"key_id": self.key.key_id, "algorithm": "ed25519", "pem": self.key.pem},
        }).encode())


@pytest.fixture
def beta() -> Iterator[Publishing]:
    publishing = Publishing(PartnerKey(BETA))
    with mock.patch.object(transport, "request", side_effect=publishing):
        yield publishing


@pytest.fixture
def worker() -> Iterator[mock.Mock]:
    """The site's worker: a discovery fetch the inbox rings for runs at once."""
    with mock.patch.object(tasks.fetch_discovery, "delay",
                           side_effect=lambda address, key_id="": tasks.fetch_discovery(address, key_id)) as ring:
        yield ring


def _invite(client: Client, key: PartnerKey) -> Any:
    body = encoded(invitation())
    headers = {k: v for k, v in key.sign(body).items() if k.lower() != "content-type"}
    return client.post(INBOX_PATH, data=body, content_type="application/json", headers=headers)


def test_it_answers_425_at_once_for_a_key_not_kept_and_applies_the_retry(client: Client, beta: Publishing,
                                                                          worker: mock.Mock) -> None:
    r = _invite(client, beta.key)
    assert r.status_code == 425, r.content
    assert r["Retry-After"] == "1"
    assert worker.call_count == 1 and beta.fetches == 1  # asked of the worker, not fetched by the inbox
    assert PartnerDocument.objects.get(address=BETA).key_id == beta.key.key_id
    assert _invite(client, beta.key).status_code == 200


def test_it_never_fetches_while_the_sender_waits(client: Client, beta: Publishing) -> None:
    with mock.patch.object(tasks.fetch_discovery, "delay") as ring:  # a worker that has not run yet
        for _ in range(3):
            assert _invite(client, beta.key).status_code == 425
    assert beta.fetches == 0
    assert ring.call_count == 1  # rung once for a burst, not once per request
    assert not Link.objects.exists()


def test_invitations_in_a_row_from_one_partner_fetch_its_discovery_once(client: Client, beta: Publishing,
                                                                        worker: mock.Mock) -> None:
    assert _invite(client, beta.key).status_code == 425
    for _ in range(3):
        assert _invite(client, beta.key).status_code == 200
    assert beta.fetches == 1
    assert Link.objects.filter(partner_key_id=beta.key.key_id).count() == 3


def test_a_key_the_partner_changed_is_fetched_again_and_pinned(client: Client, beta: Publishing,
                                                               worker: mock.Mock) -> None:
    old = beta.key
    partner_discover(BETA)  # kept from an earlier fetch
    assert _invite(client, old).status_code == 200
    beta.key = PartnerKey(BETA)  # the partner's new key, while the old one is still kept
    assert _invite(client, beta.key).status_code == 425
    r = _invite(client, beta.key)
    assert r.status_code == 200, r.content
    assert beta.fetches == 2
    assert Link.objects.filter(partner_key_id=beta.key.key_id).count() == 1
    # The old key is no longer published: a message signed with it is refused after one more fetch.
    assert _invite(client, old).status_code == 425
    r = _invite(client, old)
    assert r.status_code == 401
    assert "not the one the sender publishes" in r.json()["error"]
    assert beta.fetches == 3


def test_the_kept_document_is_shared_by_every_process(beta: Publishing) -> None:
    partner_discover(BETA)
    cache.clear()  # another process: nothing in its memory
    assert partner_discover(BETA, max_age=60).key_id == beta.key.key_id
    assert beta.fetches == 1


def test_a_failed_fetch_is_not_remembered(client: Client, beta: Publishing) -> None:
    with mock.patch.object(transport, "request",
                           side_effect=transport.TransportError("down", permanent=False)), \
            pytest.raises(DiscoveryError):
        partner_discover(BETA, max_age=60)
    assert partner_discover(BETA, max_age=60).key_id == beta.key.key_id
    assert beta.fetches == 1


def test_a_kept_refusal_is_never_answered_but_asked_again(beta: Publishing) -> None:
    partner_discover(BETA)
    PartnerDocument.objects.filter(address=BETA).update(active=False)  # kept while the partner was switched off
    found = partner_discover(BETA, max_age=60)
    assert found.active is True and beta.fetches == 2
    assert partner_discover(BETA, max_age=60).active is True and beta.fetches == 2  # an active one is kept


def test_without_max_age_discovery_is_always_fetched(beta: Publishing) -> None:
    partner_discover(BETA)
    partner_discover(BETA)
    assert beta.fetches == 2


def test_a_starting_worker_keeps_every_partners_discovery_so_a_first_message_is_verified_at_once(
    client: Client, beta: Publishing
) -> None:
    with mock.patch.object(tasks.prefetch_partners, "apply_async") as again:
        tasks.prefetch_partners()
    assert again.call_count == 0
    assert PartnerDocument.objects.get(address=BETA).key_id == beta.key.key_id
    with mock.patch.object(tasks.fetch_discovery, "delay") as ring:
        assert _invite(client, beta.key).status_code == 200
    assert ring.call_count == 0 and beta.fetches == 1


def test_a_partner_not_up_yet_is_tried_again_a_while() -> None:
    with mock.patch.object(transport, "request", side_effect=transport.TransportError("down", permanent=False)), \
            mock.patch.object(tasks.prefetch_partners, "apply_async") as again:
        tasks.prefetch_partners()
        tasks.prefetch_partners(tasks.PREFETCH_ATTEMPTS)
    assert again.call_args_list == [mock.call((2,), countdown=tasks.PREFETCH_RETRY_SECONDS)]  # then it gives up
    assert not PartnerDocument.objects.exists()
