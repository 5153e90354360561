"""The local admin API: clear 400s for bad invitations (nothing stored), 409 for an action in the wrong status."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from invitations import transport
from invitations.directory import ADDRESS_HINT
from invitations.discovery import DiscoveryError, PartnerDiscovery
from invitations.models import Link, OutboxMessage, PartnerDocument
from jira.models import SiteConfiguration
from synchronizations.models import Synchronization
from synchronizations.services import NOT_SUPPORTED
from synchronizations.states import InvitationStatus
from tests.factories import BETA, PartnerKey, synchronization
from tests.invitations.test_inbox_refusals import published

pytestmark = pytest.mark.django_db
S = InvitationStatus
DIRECTORY = "alpha.atlassian.net=http://127.0.0.1:9,beta.atlassian.net=http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def _directory() -> Iterator[None]:
    with override_settings(SITE_DIRECTORY=DIRECTORY, SITE_ADDRESS="https://alpha.atlassian.net"):
        yield


def _partner(installed: bool = True, active: bool = True) -> PartnerDiscovery:
    key = PartnerKey(BETA)
    return PartnerDiscovery(address=BETA, installed=installed, active=active, protocol_version=1,
                            key_id=key.key_id, public_key_pem=key.pem)


def _discover(result: Any) -> Any:
    kw = {"side_effect": result} if isinstance(result, Exception) else {"return_value": result}
    return mock.patch("synchronizations.services.partner_discover", **kw)


def _create(client: Client, **overrides: Any) -> Any:
    data = {"name": "Support", "sync_type": "cloud_to_cloud", "partner_address": BETA, "scope": {"mode": "show_all"}}
    data.update(overrides)
    return client.post("/api/synchronizations/", data, content_type="application/json")


def test_it_creates_an_invitation_and_pins_the_partners_key(admin_client: Client) -> None:
    partner = _partner()
    with _discover(partner):
        r = _create(admin_client)
    assert r.status_code == 201, r.content
    sync = Synchronization.objects.get()
    assert (sync.status, Link.objects.get(pk=sync.pk).partner_key_id) == (S.INVITATION_SENT, partner.key_id)
    assert OutboxMessage.objects.get().message_type == "invitation"
    assert r.json()["delivery"]["state"] == "pending"


@pytest.mark.parametrize(("overrides", "discovery", "field", "error"), [
    ({"name": "  "}, _partner(), "name", "Enter a name for the synchronization."),
    ({"sync_type": "cloud_to_dc"}, _partner(), "sync_type", NOT_SUPPORTED),
    ({"sync_type": "server"}, _partner(), "sync_type", "is not a valid choice"),
    ({"partner_address": "beta.atlassian.net"}, _partner(), "partner_address", ADDRESS_HINT),
    ({"partner_address": "https://beta.example.com"}, _partner(), "partner_address", ADDRESS_HINT),
    ({"partner_address": "https://alpha.atlassian.net"}, _partner(), "partner_address", "your own Jira site"),
    ({"partner_address": "https://gamma.atlassian.net"}, _partner(), "partner_address", "not a Jira site we can"),
    ({}, DiscoveryError("down"), "partner_address", "could not be reached"),
    ({}, _partner(installed=False), "partner_address", "Issue Sync is not installed on"),
    ({}, _partner(active=False), "partner_address", "Issue Sync is not active on"),
    ({"scope": {"mode": "show_only_selected"}}, _partner(), "scope_mode", "Select at least one project"),
    ({"scope": {"mode": "everything"}}, _partner(), "scope", "is not a valid choice"),
    ({"scope": {"mode": "show_only_selected", "projects": ["NOPE"]}}, _partner(), "scope", "does not exist"),
])
def test_it_refuses_an_invalid_invitation_and_stores_nothing(
    admin_client: Client, overrides: dict[str, Any], discovery: Any, field: str, error: str
) -> None:
    with _discover(discovery):
        r = _create(admin_client, **overrides)
    assert r.status_code == 400, r.content
    assert error in str(r.json()[field])
    assert not Synchronization.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_it_refuses_to_invite_while_the_app_is_switched_off(admin_client: Client) -> None:
    SiteConfiguration.objects.update_or_create(pk=1, defaults={"issue_sync_active": False})
    with _discover(_partner()):
        r = _create(admin_client)
    assert r.status_code == 400
    assert "Issue Sync is not active on this site" in str(r.json())
    assert not Synchronization.objects.exists()


WRONG_STATUS = [
    ("accept", S.INVITATION_SENT), ("accept", S.NOT_CONFIGURED), ("accept", S.DELETED),
    ("reject", S.INVITATION_SENT), ("reject", S.ACTIVE), ("reject", S.REJECTED),
    ("delete", S.INVITATION_RECEIVED), ("delete", S.REJECTED), ("delete", S.DELETED),
    ("remove", S.INVITATION_SENT), ("remove", S.NOT_CONFIGURED),
    ("scope", S.REJECTED), ("scope", S.DELETED), ("scope", S.INVITATION_RECEIVED),
]


@pytest.mark.parametrize(("action", "status"), WRONG_STATUS)
def test_an_action_in_the_wrong_status_is_a_conflict_that_changes_nothing(
    admin_client: Client, action: str, status: S
) -> None:
    sync = synchronization(status=status)
    body = {"mode": "show_all"} if action in ("accept", "scope") else None
    r = admin_client.post(f"/api/synchronizations/{sync.pk}/{action}/", body, content_type="application/json")
    assert r.status_code == 409, r.content
    assert f"is not possible for a synchronization that is {S(status).label}" in r.json()["detail"]
    after = Synchronization.objects.get(pk=sync.pk)
    assert (after.status, after.removed_at) == (status, None)
    assert not OutboxMessage.objects.exists()


def test_a_removed_record_is_gone_from_the_list_and_cannot_be_removed_again(admin_client: Client) -> None:
    sync = synchronization(status=S.REJECTED)
    assert admin_client.post(f"/api/synchronizations/{sync.pk}/remove/").status_code == 204
    assert admin_client.get(f"/api/synchronizations/{sync.pk}/").status_code == 404
    assert admin_client.post(f"/api/synchronizations/{sync.pk}/remove/").status_code == 404
    assert Synchronization.objects.get(pk=sync.pk).status == S.REJECTED  # kept, to absorb late messages


def test_the_api_is_for_admins_only(client: Client, django_user_model: Any) -> None:
    sync = synchronization()
    assert client.get("/api/synchronizations/").status_code in (401, 403)
    django_user_model.objects.create_user("member", password="pw")
    client.login(username="member", password="pw")
    assert client.get("/api/synchronizations/").status_code == 403
    assert client.post(f"/api/synchronizations/{sync.pk}/delete/").status_code == 403
    assert Synchronization.objects.get(pk=sync.pk).status == S.INVITATION_SENT


def test_a_kept_refusal_is_asked_again_so_a_partner_just_switched_on_is_invited(admin_client: Client) -> None:
    # The document kept a second ago says inactive; asked again, the partner is active now.
    key = PartnerKey(BETA)
    PartnerDocument.objects.create(address=BETA, installed=True, active=False, protocol_version=1,
                                   key_id=key.key_id, public_key_pem=key.pem, fetched_at=timezone.now())
    with mock.patch.object(transport, "request", return_value=published(key)) as get:  # active now
        r = _create(admin_client)
    assert r.status_code == 201, r.content
    assert get.call_count == 1
    assert PartnerDocument.objects.get(address=BETA).active is True
