"""Discovery: what this site publishes about itself, and reading a partner's."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from invitations import transport
from invitations.directory import normalize_address
from invitations.keys import DISCOVERY_PATH, key_id_prefix, load_public_key, site_key_load_or_create
from invitations.messages import INBOX_PATH, PROTOCOL_VERSION
from invitations.models import PartnerDocument
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


# How long a fetched discovery document is answered to callers that accept one that old.
DISCOVERY_CACHE_SECONDS = 60
# How old a partner's kept discovery an admin's action (an invitation) may take as the partner's
# current state: a burst of invitations to one partner costs one fetch a moment, not one each,
# while a partner switched off is still seen at the next action.
PARTNER_STATE_MAX_AGE_SECONDS = 2.0
# A partner's discovery is read with this read timeout at most: it never waits on anything.
DISCOVERY_READ_TIMEOUT_SECONDS = 3.0


def partner_discover(address: str, *, max_age: float = 0) -> PartnerDiscovery:
    """Fetch a partner's discovery through the directory; raise DiscoveryError if unusable.

    With `max_age`, a document fetched at most that many seconds ago may be answered
    instead, but only one that says the app is installed and active: a refusal is always
    asked again, because the partner's admin may have just switched the app on, and an
    admin retrying must not be told the old state. Every fresh fetch is kept in the
    database (`PartnerDocument`), so every process of the site shares it; failures are not kept.
    """
    address = normalize_address(address)
    if max_age > 0:
        kept = PartnerDocument.objects.filter(
            address=address, fetched_at__gte=timezone.now() - timedelta(seconds=max_age),
            installed=True, active=True).first()
        if kept is not None:
            return _from_row(kept)
    found = _fetch(address)
    _keep(found)
    return found


def partner_key_kept(address: str) -> PartnerDiscovery | None:
    """The partner's discovery as last fetched, whatever its age, without fetching; None if never fetched."""
    kept = PartnerDocument.objects.filter(address=address).first()
    return None if kept is None else _from_row(kept)


def partner_key_refused(address: str, key_id: str) -> bool:
    """Whether the last fetch of the partner's discovery, made for `key_id`, showed it is not its key."""
    return PartnerDocument.objects.filter(address=address, refused_key_id=key_id).exclude(key_id=key_id).exists()


def partner_key_fetch(address: str, *, key_id: str = "") -> PartnerDiscovery:
    """Fetch and keep the partner's discovery for a message signed with `key_id`; remember if that is not its key."""
    found = partner_discover(address)
    if key_id and found.key_id != key_id:
        PartnerDocument.objects.filter(address=found.address, key_id=found.key_id).update(refused_key_id=key_id)
    return found


def _from_row(row: PartnerDocument) -> PartnerDiscovery:
    return PartnerDiscovery(address=row.address, installed=row.installed, active=row.active,
                            protocol_version=row.protocol_version, key_id=row.key_id,
                            public_key_pem=row.public_key_pem)


def _keep(found: PartnerDiscovery) -> None:
    values = {"installed": found.installed, "active": found.active, "protocol_version": found.protocol_version,
              "key_id": found.key_id, "public_key_pem": found.public_key_pem, "fetched_at": timezone.now(),
              "refused_key_id": ""}
    try:
        with transaction.atomic():
            PartnerDocument.objects.update_or_create(address=found.address, defaults=values)
    except IntegrityError:  # another process kept the same partner at the same moment: theirs is as good
        pass


def _fetch(address: str) -> PartnerDiscovery:
    try:
        data = transport.request("GET", address, DISCOVERY_PATH, headers={"Accept": "application/json"},
                                 read_timeout=DISCOVERY_READ_TIMEOUT_SECONDS).json()
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
