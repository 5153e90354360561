"""The site's Ed25519 key: created once, kept across restarts, private half encrypted at rest."""
from __future__ import annotations

import pytest
from cryptography.fernet import InvalidToken
from django.test import override_settings

from invitations import keys
from invitations.models import SiteKey

pytestmark = pytest.mark.django_db


def test_it_creates_the_key_once_and_loads_the_same_one_after_a_restart() -> None:
    first = keys.site_key_load_or_create()
    keys._private_key.cache_clear()  # what a new process starts with
    second = keys.site_key_load_or_create()
    assert SiteKey.objects.count() == 1
    assert (second.key_id, second.public_key_pem) == (first.key_id, first.public_key_pem)
    key_id, private = keys.site_private_key()
    assert key_id == first.key_id
    keys.load_public_key(first.public_key_pem).verify(private.sign(b"m"), b"m")


def test_the_private_key_is_not_stored_as_plaintext() -> None:
    stored = bytes(keys.site_key_load_or_create().private_key_encrypted)
    assert b"PRIVATE KEY" not in stored
    assert b"-----BEGIN" not in stored


def test_the_private_key_cannot_be_read_without_the_secret() -> None:
    stored = bytes(keys.site_key_load_or_create().private_key_encrypted)
    keys._private_key.cache_clear()
    with override_settings(SIGNING_KEY_SECRET="another-secret"), pytest.raises(InvalidToken):
        keys._private_key("any", stored)
    keys._private_key.cache_clear()

