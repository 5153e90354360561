"""The inbox remembers a partner's discovery briefly: a burst of invitations costs one fetch, a changed key none.

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

from invitations import transport
from invitations.discovery import DiscoveryError, partner_discover
from invitations.messages import INBOX_PATH
from invitations.models import Link
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


def _invite(client: Client, key: PartnerKey) -> Any:
    body = encoded(invitation())
    headers = {k: v for k, v in key.sign(body).items() if k.lower() != "content-type"}
    return client.post(INBOX_PATH, data=body, content_type="application/json", headers=headers)


def test_invitations_in_a_row_from_one_partner_fetch_its_discovery_once(client: Client, beta: Publishing) -> None:
    for _ in range(3):
        assert _invite(client, beta.key).status_code == 200
    assert beta.fetches == 1
    assert Link.objects.filter(partner_key_id=beta.key.key_id).count() == 3


def test_a_key_the_partner_changed_is_fetched_again_and_pinned(client: Client, beta: Publishing) -> None:
    old = beta.key
    assert _invite(client, old).status_code == 200
    beta.key = PartnerKey(BETA)  # the partner's new key, while the old one is still remembered
    r = _invite(client, beta.key)
    assert r.status_code == 200, r.content
    assert beta.fetches == 2
    assert Link.objects.filter(partner_key_id=beta.key.key_id).count() == 1
    # The old key is no longer published: a message signed with it is refused after one more fetch.
    r = _invite(client, old)
    assert r.status_code == 401
    assert "not the one the sender publishes" in r.json()["error"]
    assert beta.fetches == 3


def test_a_failed_fetch_is_not_remembered(client: Client, beta: Publishing) -> None:
    with mock.patch.object(transport, "request",
                           side_effect=transport.TransportError("down", permanent=False)), \
            pytest.raises(DiscoveryError):
        partner_discover(BETA, max_age=60)
    assert partner_discover(BETA, max_age=60).key_id == beta.key.key_id
    assert beta.fetches == 1


def test_without_max_age_discovery_is_always_fetched(beta: Publishing) -> None:
    partner_discover(BETA)
    partner_discover(BETA)
    assert beta.fetches == 2
