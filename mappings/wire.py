"""The message kinds mappings own: a mapping saved or deleted on either site.

Registered from `MappingsConfig.ready()`. They travel on the synchronization's lifecycle
stream: a mapping applies only after the accept that came before it.
"""
from __future__ import annotations

from typing import Any

from rest_framework import serializers

from invitations.kinds import Incoming, MessageKind, Text
from mappings.services import mapping_message_apply
from synchronizations.states import Received
from synchronizations.wire import locked, transition


class MappingWireSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = Text(max_length=120)
    inviter_project = Text(max_length=10)
    invitee_project = Text(max_length=10)
    issue_types = serializers.ListField(child=serializers.DictField(child=Text()), max_length=100)
    field_pairs = serializers.ListField(child=serializers.DictField(child=Text()), max_length=200)
    value_maps = serializers.DictField(child=serializers.ListField(child=serializers.DictField(
        child=Text())))
    comments = Text(max_length=20)
    filter = Text(max_length=500, allow_blank=True)
    enabled = serializers.BooleanField()
    version = serializers.IntegerField(min_value=1)
    updated_at = Text(max_length=40)
    updated_by = Text(max_length=300, allow_blank=True)

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        value["id"] = str(value["id"])
        return value


class MappingSavedPayload(serializers.Serializer):
    mapping = MappingWireSerializer()


class MappingDeletedPayload(serializers.Serializer):
    id = serializers.UUIDField()
    version = serializers.IntegerField(min_value=1)


def _apply(event: Received) -> Any:
    def apply(message: Incoming) -> str:
        sync = locked(message)
        if not transition(sync, event):
            return "absorbed"
        mapping_message_apply(sync, message)  # and the status the state table gives the mappings now
        sync.save()
        return "applied"

    return apply


def _saved_words(payload: dict[str, Any]) -> str:
    m = payload["mapping"]
    return f"Mapping “{m['name']}” version {m['version']}, {'enabled' if m['enabled'] else 'disabled'}"


KINDS = [
    MessageKind("mapping_saved", MappingSavedPayload, _apply(Received.MAPPING_SAVED), _saved_words,
                label="Mapping saved", author=lambda p: str(p["mapping"].get("updated_by", ""))),
    MessageKind("mapping_deleted", MappingDeletedPayload, _apply(Received.MAPPING_DELETED),
                lambda p: f"Mapping deleted (version {p['version']})", label="Mapping deleted"),
]
