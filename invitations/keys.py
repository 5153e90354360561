"""This site's Ed25519 key pair: created on first use, kept in the database, private half encrypted."""
from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.db import IntegrityError, connection, transaction

from invitations.models import SiteKey

DISCOVERY_PATH = "/.well-known/issue-sync"


def key_id_prefix(address: str) -> str:
    """Key ids are bound to the sender's address: the id names where the key is published."""
    return f"{address}{DISCOVERY_PATH}#"


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"issuesync-signing-key:" + settings.SIGNING_KEY_SECRET.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@lru_cache(maxsize=64)  # a key object is immutable; parsing the same PEM for every request is waste
def load_public_key(pem: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def site_key_load_or_create() -> SiteKey:
    key = SiteKey.objects.filter(slot=1).first()
    if key:
        return key
    private = Ed25519PrivateKey.generate()
    pem = public_key_pem(private.public_key())
    raw = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fingerprint = hashlib.sha256(pem.encode()).hexdigest()[:16]
    try:
        with transaction.atomic():
            return SiteKey.objects.create(
                slot=1,
                key_id=key_id_prefix(settings.SITE_ADDRESS) + fingerprint,
                public_key_pem=pem,
                private_key_encrypted=_fernet().encrypt(raw),
            )
    except IntegrityError:
        # Another process created it first: use theirs.
        return SiteKey.objects.get(slot=1)


@lru_cache(maxsize=4)
def _private_key(key_id: str, encrypted: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(_fernet().decrypt(encrypted), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


# Read for every request the site signs (a QA reset with new keys changes it while the site runs), so written
# out: the ORM took four times longer to build this query than PostgreSQL to answer it (0.91 against 0.21 ms).
_SIGNING_KEY = "SELECT key_id, private_key_encrypted FROM {table} WHERE slot = %s"


def site_private_key() -> tuple[str, Ed25519PrivateKey]:
    with connection.cursor() as cursor:
        cursor.execute(_SIGNING_KEY.format(table=connection.ops.quote_name(SiteKey._meta.db_table)), [1])
        row = cursor.fetchone()
    if row is None:
        key = site_key_load_or_create()
        row = (key.key_id, key.private_key_encrypted)
    return row[0], _private_key(row[0], bytes(row[1]))
