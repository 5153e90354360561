"""How a partner's mapping messages land: newer wins, a tie goes to the inviter, a delete is final."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.utils import timezone

from invitations.kinds import Incoming
from jira.models import Project
from mappings.models import Mapping
from mappings.services import mapping_message_apply
from synchronizations.models import Role, Scope, Synchronization
from synchronizations.states import InvitationStatus

pytestmark = pytest.mark.django_db
MAPPING_ID = str(uuid.uuid4())


def _sync(role: str) -> Synchronization:
    return Synchronization.objects.create(
        name="S", partner_address="https://beta.atlassian.net", role=role, status=InvitationStatus.NOT_CONFIGURED,
        scope=Scope.objects.create(),
        partner_visible={"projects": [], "issue_types": []},
    )


def _saved(sync: Synchronization, version: int, name: str, enabled: bool = True) -> Incoming:
    mapping: dict[str, Any] = {
        "id": MAPPING_ID, "name": name, "inviter_project": "A", "invitee_project": "B", "issue_types": [],
        "field_pairs": [], "value_maps": {}, "comments": "off", "filter": "", "enabled": enabled,
        "version": version, "updated_at": timezone.now().isoformat(), "updated_by": "partner",
    }
    return Incoming(id=uuid.uuid4(), kind="mapping_saved", link_id=sync.pk, stream="", sequence=1,
                    sender=sync.partner_address, payload={"mapping": mapping})


def _local(sync: Synchronization, version: int, name: str) -> None:
    Mapping.objects.create(id=MAPPING_ID, synchronization=sync, name=name, inviter_project="A",
                           invitee_project="B", version=version, updated_at=timezone.now(), enabled=True)


def test_a_newer_version_replaces_ours_and_an_older_one_is_ignored() -> None:
    sync = _sync(Role.INVITER)
    _local(sync, 2, "ours")
    mapping_message_apply(sync, _saved(sync, 1, "older"))
    assert Mapping.objects.get().name == "ours"
    mapping_message_apply(sync, _saved(sync, 3, "newer"))
    assert Mapping.objects.get().name == "newer"


@pytest.mark.parametrize(("role", "winner"), [(Role.INVITER, "ours"), (Role.INVITEE, "theirs")])
def test_the_same_version_edited_on_both_sites_goes_to_the_inviter(role: str, winner: str) -> None:
    sync = _sync(role)
    _local(sync, 2, "ours")
    mapping_message_apply(sync, _saved(sync, 2, "theirs"))
    assert Mapping.objects.get().name == winner


def test_an_edit_crossing_a_delete_does_not_bring_the_mapping_back() -> None:
    sync = _sync(Role.INVITER)
    _local(sync, 2, "ours")
    Mapping.objects.update(deleted_at=timezone.now(), enabled=False)
    mapping_message_apply(sync, _saved(sync, 5, "edited meanwhile"))
    mapping = Mapping.objects.get()
    assert mapping.deleted_at is not None and not mapping.enabled


def test_status_follows_the_enabled_mappings() -> None:
    Project.objects.create(key="A", name="A")
    sync = _sync(Role.INVITER)
    sync.partner_visible = {"projects": [{"key": "B", "name": "B"}], "issue_types": []}
    mapping_message_apply(sync, _saved(sync, 1, "new", enabled=True))
    assert sync.status == InvitationStatus.ACTIVE
    mapping_message_apply(sync, _saved(sync, 2, "off", enabled=False))
    assert sync.status == InvitationStatus.NOT_CONFIGURED


def test_a_received_mapping_the_scope_hides_is_disabled_with_a_warning() -> None:
    sync = _sync(Role.INVITER)  # neither project A nor B is visible
    mapping_message_apply(sync, _saved(sync, 1, "hidden", enabled=True))
    mapping = Mapping.objects.get()
    assert not mapping.enabled and "no longer shows A, B" in mapping.warning
    assert sync.status == InvitationStatus.NOT_CONFIGURED
