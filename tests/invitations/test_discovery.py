"""GET /.well-known/issue-sync: what a site publishes about itself."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.test import Client
from django.urls import reverse

from invitations.keys import load_public_key, site_private_key
from invitations.messages import PROTOCOL_VERSION
from jira.models import SiteConfiguration

pytestmark = pytest.mark.django_db


def test_it_answers_the_address_the_app_the_protocol_and_the_public_key(client: Client) -> None:
    r = client.get(reverse("discovery"))
    assert r.status_code == 200
    data = r.json()
    assert data["address"] == "https://alpha.atlassian.net"
    assert data["app"] == {"name": "Issue Sync Pro", "installed": True, "active": True}
    assert data["protocol_version"] == PROTOCOL_VERSION
    key = data["public_key"]
    assert key["algorithm"] == "ed25519"
    assert key["key_id"].startswith("https://alpha.atlassian.net/.well-known/issue-sync#")
    assert isinstance(load_public_key(key["pem"]), Ed25519PublicKey)


def test_the_published_key_is_the_one_the_site_signs_with(client: Client) -> None:
    key = client.get(reverse("discovery")).json()["public_key"]
    key_id, private = site_private_key()
    assert key_id == key["key_id"]
    signature = private.sign(b"hello")
    load_public_key(key["pem"]).verify(signature, b"hello")  # raises if the halves do not match


def test_it_never_serves_the_private_key(client: Client) -> None:
    r = client.get(reverse("discovery"))
    assert "PRIVATE" not in r.content.decode().upper()
    assert r.json()["public_key"]["pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert "private_key_encrypted" not in r.content.decode()


def test_switching_the_app_off_makes_discovery_say_inactive(client: Client) -> None:
    config = SiteConfiguration.load()
    config.issue_sync_active = False
    config.save()
    assert client.get(reverse("discovery")).json()["app"] == {"name": "Issue Sync Pro", "installed": True,
                                                              "active": False}
    config.issue_sync_installed, config.issue_sync_active = False, True
    config.save()
    assert client.get(reverse("discovery")).json()["app"]["installed"] is False
    assert client.get(reverse("discovery")).json()["app"]["active"] is False


def test_it_answers_only_get(client: Client) -> None:
    assert client.post(reverse("discovery")).status_code == 405
