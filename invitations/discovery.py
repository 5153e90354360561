"""Discovery: what this site publishes about itself, and reading a partner's."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from invitations import transport
from invitations.directory import normalize_address
from invitations.keys import DISCOVERY_PATH, key_id_prefix, load_public_key, site_key_load_or_create
from invitations.messages import INBOX_PATH, PROTOCOL_VERSION
from jira.models import SiteConfiguration


def discovery_document() -> dict[str, Any]:
    """The public document at /.well-known/issue-sync. Never holds anything secret."""
    key = site_key_load_or_create()
    config = SiteConfiguration.load()
    return {
        "address": settings.SITE_ADDRESS,
        "name": settings.SITE_NAME,
        "app": {
            "name": "Issue Sync Pro",
            "installed": config.issue_sync_installed,
            "active": config.is_enabled,
        },
        "protocol_version": PROTOCOL_VERSION,
        "inbox": INBOX_PATH,
        "public_key": {"key_id": key.key_id, "algorithm": "ed25519", "pem": key.public_key_pem},
    }


class DiscoveryError(Exception):
    pass


@dataclass(frozen=True)
class PartnerDiscovery:
    address: str
    installed: bool
    active: bool
    protocol_version: int
    key_id: str
    public_key_pem: str


# How long a fetched discovery document is kept for callers that accept one that old.
DISCOVERY_CACHE_SECONDS = 60


def _cache_key(address: str) -> str:
    return f"invitations:discovery:{address}"


def partner_discover(address: str, *, max_age: float = 0) -> PartnerDiscovery:
    """Fetch a partner's discovery through the directory; raise DiscoveryError if unusable.

    With `max_age`, a document fetched at most that many seconds ago may be answered
    instead, from Django's cache (per process by default); every fresh fetch is
    remembered, failures are not.
    """
    address = normalize_address(address)
    if max_age > 0:
        cached = cache.get(_cache_key(address))
        if cached is not None and time.time() - cached[0] <= max_age:
            return cached[1]  # type: ignore[no-any-return]
    found = _fetch(address)
    cache.set(_cache_key(address), (time.time(), found), timeout=DISCOVERY_CACHE_SECONDS)
    return found


def _fetch(address: str) -> PartnerDiscovery:
    try:
        data = transport.request("GET", address, DISCOVERY_PATH, headers={"Accept": "application/json"}).json()
        key = data["public_key"]
        found = PartnerDiscovery(
            address=str(data["address"]),
            installed=bool(data["app"]["installed"]),
            active=bool(data["app"]["active"]),
            protocol_version=int(data["protocol_version"]),
            key_id=str(key["key_id"]),
            public_key_pem=str(key["pem"]),
        )
        load_public_key(found.public_key_pem)
    except transport.TransportError as e:
        raise DiscoveryError(f"{address} could not be reached: {e}") from e
    except (ValueError, KeyError, TypeError) as e:
        raise DiscoveryError(f"{address} did not answer a valid Issue Sync discovery document") from e
    if found.address != address:
        raise DiscoveryError(f"{address} answered for another site ({found.address})")
    if not found.key_id.startswith(key_id_prefix(address)):
        raise DiscoveryError(f"{address} published a key that does not belong to it")
    return found
