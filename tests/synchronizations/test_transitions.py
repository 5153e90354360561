"""The transition table walked whole: every (status, event) pair either moves as the table says or changes nothing."""
from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from invitations.inbox import inbox_apply
from invitations.messages import Envelope
from invitations.models import InboundMessage, OutboxMessage
from jira.models import Project
from mappings.models import Mapping
from mappings.services import refresh_status
from synchronizations import services
from synchronizations.models import Role, Scope, Synchronization
from synchronizations.states import (
    REMOVED,
    TRANSITIONS,
    Action,
    Configured,
    InvitationStatus,
    Received,
    next_status,
)
from tests.factories import envelope, lifecycle, synchronization

pytestmark = pytest.mark.django_db
S = InvitationStatus
ACTIVE_VISIBLE = {"projects": [{"key": "B", "name": "B"}], "issue_types": []}


def _sync(status: S) -> Synchronization:
    role = Role.INVITEE if status == S.INVITATION_RECEIVED else Role.INVITER
    sync = synchronization(status=status, role=role, last_received_sequence=1, partner_visible=dict(ACTIVE_VISIBLE))
    if status == S.ACTIVE:
        # Active means an enabled mapping whose projects both scopes show.
        Project.objects.create(key="A", name="A")
        Mapping.objects.create(synchronization=sync, name="m", inviter_project="A", invitee_project="B",
                               version=1, updated_at=timezone.now(), enabled=True)
    return sync


SERVICES: dict[Action, Any] = {
    Action.ACCEPT: lambda s: services.synchronization_accept(synchronization=s),
    Action.REJECT: lambda s: services.synchronization_reject(synchronization=s),
    Action.DELETE: lambda s: services.synchronization_delete(synchronization=s),
    Action.REMOVE: lambda s: services.synchronization_remove(synchronization=s),
    Action.EDIT_SCOPE: lambda s: services.synchronization_scope_update(synchronization=s, scope_mode="show_all"),
}


MESSAGE_SENT = {Action.ACCEPT: "accept", Action.REJECT: "reject", Action.DELETE: "delete",
                Action.EDIT_SCOPE: "scope_changed"}


def test_create_is_only_an_action_on_no_record() -> None:
    assert [k for k in TRANSITIONS if k[1] == Action.CREATE] == [(None, Action.CREATE)]


@pytest.mark.parametrize(("status", "action"), list(itertools.product(S, SERVICES)))
def test_each_action_moves_as_the_table_says_or_changes_nothing(status: S, action: Action) -> None:
    sync = _sync(status)
    sent_before = lifecycle(sync).last_sent
    outbox = OutboxMessage.objects.count()
    expected = next_status(status, action)
    if expected is None:
        with pytest.raises(services.ActionRefused, match=f"{action.label} is not possible"):
            SERVICES[action](sync)
        after = Synchronization.objects.get(pk=sync.pk)
        assert (after.status, after.removed_at, lifecycle(sync).last_sent) == (status, None, sent_before)
        assert OutboxMessage.objects.count() == outbox
        return
    SERVICES[action](sync)
    after = Synchronization.objects.get(pk=sync.pk)
    if expected == REMOVED:
        # Off this site's list only: the status stays and the partner is not told.
        assert after.removed_at is not None and after.status == status
        assert OutboxMessage.objects.count() == outbox
        with pytest.raises(services.ActionRefused):
            services.synchronization_remove(synchronization=after)
    else:
        assert after.status == expected
        sent = OutboxMessage.objects.get(synchronization_id=sync.pk, sequence=sent_before + 1)
        assert sent.message_type == MESSAGE_SENT[action]


def test_admin_actions_and_partner_messages_are_distinct_keys() -> None:
    # Both are str enums: equal values would make an admin's Accept the same key as the partner's accept.
    assert (S.INVITATION_SENT, Action.ACCEPT) not in TRANSITIONS
    assert (S.INVITATION_SENT, Action.REJECT) not in TRANSITIONS
    assert (S.INVITATION_RECEIVED, Action.DELETE) not in TRANSITIONS
    assert (S.INVITATION_SENT, Received.ACCEPT) in TRANSITIONS


def test_the_inviter_cannot_accept_or_reject_its_own_invitation() -> None:
    sync = _sync(S.INVITATION_SENT)
    for action in (Action.ACCEPT, Action.REJECT):
        with pytest.raises(services.ActionRefused):
            SERVICES[action](sync)
    assert Synchronization.objects.get(pk=sync.pk).status == S.INVITATION_SENT


def _apply(env: Envelope) -> str:
    return inbox_apply(envelope=env, body=b"{}", partner_key_id="unpinned", partner_public_key_pem="").status


def _payload(event: Received) -> dict[str, Any]:
    if event in (Received.ACCEPT, Received.SCOPE_CHANGED):
        return {"visible": dict(ACTIVE_VISIBLE)}
    if event == Received.INVITATION:
        return {"name": "again", "sync_type": "cloud_to_cloud", "visible": dict(ACTIVE_VISIBLE)}
    if event == Received.MAPPING_SAVED:  # a new mapping, off: what the mappings enable stays as it was
        return {"mapping": {"id": str(uuid.uuid4()), "name": "theirs", "inviter_project": "A", "invitee_project": "B",
                            "issue_types": [], "field_pairs": [], "value_maps": {}, "comments": "off", "filter": "",
                            "enabled": False, "version": 1, "updated_at": timezone.now().isoformat(),
                            "updated_by": "beta"}}
    if event == Received.MAPPING_DELETED:  # a mapping this site does not hold
        return {"id": str(uuid.uuid4()), "version": 2}
    return {}


@pytest.mark.parametrize(("status", "event"), list(itertools.product(S, Received)))
def test_each_received_message_moves_as_the_table_says_or_is_refused(status: S, event: Received) -> None:
    sync = _sync(status)
    env = envelope(type=event.value, synchronization_id=sync.pk, sequence=2, payload=_payload(event))
    expected = next_status(status, event)
    outcome = _apply(env)
    after = Synchronization.objects.get(pk=sync.pk)
    # Applied or refused, the message is recorded and its sequence used: the next one is not held back.
    assert lifecycle(sync).last_received == 2
    assert InboundMessage.objects.get(pk=env.id).outcome == outcome
    if expected is None:
        assert outcome == "refused"
        assert after.status == status
        assert "does not apply" in InboundMessage.objects.get(pk=env.id).error or event == Received.INVITATION
        return
    assert after.status == expected
    assert outcome == ("absorbed" if expected == status and status in (S.REJECTED, S.DELETED) else "applied")


@pytest.mark.parametrize(("status", "event"), list(itertools.product(S, Configured)))
def test_what_the_mappings_enable_moves_the_status_as_the_table_says(status: S, event: Configured) -> None:
    sync = _sync(status)
    Mapping.objects.filter(synchronization=sync).delete()
    if event == Configured.SOME_ENABLED:
        Project.objects.get_or_create(key="A", defaults={"name": "A"})
        Mapping.objects.create(synchronization=sync, name="on", inviter_project="A", invitee_project="B",
                               version=1, updated_at=timezone.now(), enabled=True)
    refresh_status(sync)
    assert sync.status == (next_status(status, event) or status)
    # Active and Not configured come from the table alone, for accepted synchronizations only.
    assert (sync.status in (S.ACTIVE, S.NOT_CONFIGURED)) == (status in (S.ACTIVE, S.NOT_CONFIGURED))


def test_an_invitation_creates_the_record_and_a_second_copy_is_a_duplicate() -> None:
    sid = uuid.uuid4()
    env = envelope(type="invitation", synchronization_id=sid, sequence=1,
                   payload={"name": "n", "sync_type": "cloud_to_cloud", "visible": dict(ACTIVE_VISIBLE)})
    assert _apply(env) == "applied"
    assert _apply(env) == "duplicate"
    assert Synchronization.objects.get(pk=sid).status == S.INVITATION_RECEIVED
    assert InboundMessage.objects.count() == 1


def test_an_invitation_is_written_without_reading_first_and_one_for_a_synchronization_here_leaves_nothing() -> None:
    sid = uuid.uuid4()
    env = envelope(type="invitation", synchronization_id=sid, sequence=1, payload=_payload(Received.INVITATION))
    with CaptureQueriesContext(connection) as queries:
        assert _apply(env) == "applied"
    assert not [q for q in queries.captured_queries
                if q["sql"].startswith('SELECT') and 'FROM "synchronizations_synchronization"' in q["sql"]]
    # Another invitation naming a synchronization this site has (its link opened anew, or a refusal retried).
    sync = _sync(S.ACTIVE)
    scopes = Scope.objects.count()
    again = envelope(type="invitation", synchronization_id=sync.pk, sequence=2, payload=_payload(Received.INVITATION))
    assert _apply(again) == "refused"
    assert InboundMessage.objects.get(pk=again.id).error == "this synchronization was already invited"
    assert Scope.objects.count() == scopes
    assert Synchronization.objects.get(pk=sync.pk).name != "again"
