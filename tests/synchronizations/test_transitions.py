"""The transition table walked whole: every (status, event) pair either moves as the table says or changes nothing."""
from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
from django.utils import timezone

from invitations.models import InboundMessage, OutboxMessage
from jira.models import Project
from mappings.models import Mapping
from synchronizations import services
from synchronizations.models import Role, Synchronization
from synchronizations.states import REMOVED, TRANSITIONS, Action, InvitationStatus, Received, next_status
from tests.factories import envelope, synchronization

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
    outbox = OutboxMessage.objects.count()
    expected = next_status(status, action)
    if expected is None:
        with pytest.raises(services.ActionRefused, match=f"{action.label} is not possible"):
            SERVICES[action](sync)
        after = Synchronization.objects.get(pk=sync.pk)
        assert (after.status, after.removed_at, after.last_sent_sequence) == (status, None, sync.last_sent_sequence)
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
        sent = OutboxMessage.objects.get(synchronization_id=sync.pk, sequence=sync.last_sent_sequence + 1)
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


WIRE_EVENTS = [Received.INVITATION, Received.ACCEPT, Received.REJECT, Received.DELETE, Received.SCOPE_CHANGED]


@pytest.mark.parametrize(("status", "event"), list(itertools.product(S, WIRE_EVENTS)))
def test_each_received_message_moves_as_the_table_says_or_is_refused(status: S, event: Received) -> None:
    sync = _sync(status)
    payload: dict[str, Any] | None = None
    if event in (Received.ACCEPT, Received.SCOPE_CHANGED):
        payload = {"visible": dict(ACTIVE_VISIBLE)}
    elif event == Received.INVITATION:
        payload = {"name": "again", "sync_type": "cloud_to_cloud", "visible": dict(ACTIVE_VISIBLE)}
    env = envelope(type=event.value, synchronization_id=sync.pk, sequence=2, payload=payload)
    expected = next_status(status, event)
    if expected is None:
        with pytest.raises(services.MessageRefused) as refused:
            services.message_apply(envelope=env, body=b"{}")
        assert refused.value.status == 422
        after = Synchronization.objects.get(pk=sync.pk)
        assert (after.status, after.last_received_sequence) == (status, 1)
        assert not InboundMessage.objects.exists()
        return
    outcome = services.message_apply(envelope=env, body=b"{}")
    after = Synchronization.objects.get(pk=sync.pk)
    assert after.status == expected
    assert outcome == ("absorbed" if expected == status and status in (S.REJECTED, S.DELETED) else "applied")
    assert after.last_received_sequence == 2
    assert InboundMessage.objects.filter(pk=env.id).count() == 1


def test_an_invitation_creates_the_record_and_a_second_copy_is_a_duplicate() -> None:
    sid = uuid.uuid4()
    env = envelope(type="invitation", synchronization_id=sid, sequence=1,
                   payload={"name": "n", "sync_type": "cloud_to_cloud", "visible": dict(ACTIVE_VISIBLE)})
    assert services.message_apply(envelope=env, body=b"{}") == "applied"
    assert services.message_apply(envelope=env, body=b"{}") == "duplicate"
    assert Synchronization.objects.get(pk=sid).status == S.INVITATION_RECEIVED
    assert InboundMessage.objects.count() == 1
