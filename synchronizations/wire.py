"""The message kinds synchronizations own: the lifecycle of a synchronization between two sites.

Registered from `SynchronizationsConfig.ready()`. Every lifecycle message travels on the
link's lifecycle stream, so they apply in the order sent; the state table decides what each does.
"""
from __future__ import annotations

from typing import Any

from django.db import IntegrityError
from rest_framework import serializers

from invitations.kinds import Incoming, MessageKind, NotApplicable, Text
from synchronizations.models import Role, Scope, Synchronization
from synchronizations.signals import scope_changed
from synchronizations.states import InvitationStatus, Received, is_absorbed, next_status


class VisibleProjectSerializer(serializers.Serializer):
    key = Text(max_length=10)
    name = Text(max_length=120)


class VisibleIssueTypeSerializer(serializers.Serializer):
    name = Text(max_length=60)


class VisibleFieldSerializer(serializers.Serializer):
    id = Text(max_length=40)
    name = Text(max_length=80)
    kind = Text(max_length=20)
    options = serializers.ListField(child=Text(max_length=120), max_length=500)


class VisibleSerializer(serializers.Serializer):
    """What one side's scope lets the partner see."""

    projects = VisibleProjectSerializer(many=True)
    issue_types = VisibleIssueTypeSerializer(many=True)
    mappable_fields = VisibleFieldSerializer(many=True, required=False)


class InvitationPayload(serializers.Serializer):
    name = Text(max_length=120)
    sync_type = serializers.ChoiceField(choices=["cloud_to_cloud"])
    visible = VisibleSerializer()


class VisiblePayload(serializers.Serializer):
    visible = VisibleSerializer()


class EmptyPayload(serializers.Serializer):
    pass


def locked(message: Incoming) -> Synchronization:
    """The message's synchronization, locked for the rest of the inbox's transaction."""
    sync = Synchronization.objects.select_for_update().filter(pk=message.link_id).first()
    if sync is None:
        raise NotApplicable("this site holds no synchronization for this message")
    return sync


def transition(sync: Synchronization, event: Received) -> bool:
    """Move `sync` as the state table says for a partner's message; False when it is absorbed.

    Raises NotApplicable when the table has no such move.
    """
    status = sync.status_enum
    new = next_status(status, event)
    if new is None:
        raise NotApplicable(f"{event.label} does not apply to a synchronization that is {sync.get_status_display()}")
    if is_absorbed(status, event):
        return False
    sync.status = new
    return True


def _invitation_apply(message: Incoming) -> str:
    payload = message.payload
    scope = Scope.objects.create(mode=Scope.Mode.SHOW_ALL)
    try:
        Synchronization.objects.create(
            id=message.link_id, name=payload["name"], sync_type=payload["sync_type"],
            partner_address=message.sender, role=Role.INVITEE, status=InvitationStatus.INVITATION_RECEIVED,
            scope=scope, partner_visible=payload["visible"],
        )
    except IntegrityError:
        # Its id, the one thing a new synchronization with a new scope can repeat: asked by the insert rather
        # than read before it (a read per invitation, 10 % of the inbox's time). The inbox's savepoint
        # around each message takes the scope back.
        raise NotApplicable("this synchronization was already invited") from None
    return "applied"


def _status_apply(event: Received, *, visible: bool = False) -> Any:
    def apply(message: Incoming) -> str:
        sync = locked(message)
        if not transition(sync, event):
            return "absorbed"
        if visible:
            sync.partner_visible = message.payload["visible"]
        if event == Received.SCOPE_CHANGED:
            scope_changed.send(sender=Synchronization, synchronization=sync)
        sync.save()
        return "applied"

    return apply


def _scope_words(payload: dict[str, Any]) -> str:
    projects = ", ".join(str(p.get("key")) for p in payload["visible"].get("projects", []))
    return f"Scope shows {projects or 'no projects'}"


KINDS = [
    MessageKind("invitation", InvitationPayload, _invitation_apply, _scope_words,
                label="Invitation", opens_link=True),
    MessageKind("accept", VisiblePayload, _status_apply(Received.ACCEPT, visible=True),
                _scope_words, label="Accept"),
    MessageKind("reject", EmptyPayload, _status_apply(Received.REJECT), lambda p: "", label="Reject"),
    MessageKind("delete", EmptyPayload, _status_apply(Received.DELETE), lambda p: "", label="Delete"),
    MessageKind("scope_changed", VisiblePayload, _status_apply(Received.SCOPE_CHANGED, visible=True),
                _scope_words, label="Scope changed"),
]
