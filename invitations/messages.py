"""The message format and the registry of message types.

Every message is a JSON envelope: a unique id, its type, the shared
synchronization id, a per-synchronization sequence number, sender and
recipient addresses, a creation time and a type-specific payload. A new
type is one `MessageType(...)` line here plus its handler.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rest_framework import serializers

PROTOCOL_VERSION = 1
INBOX_PATH = "/wire/v1/messages"
# Several messages to one partner in one signed request: {"sender", "recipient", "messages": [...]}.
BATCH_PATH = "/wire/v1/batches"
MAX_BATCH_MESSAGES = 100


class VisibleProjectSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=10)
    name = serializers.CharField(max_length=120)


class VisibleIssueTypeSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=60)


class VisibleFieldSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=80)
    kind = serializers.CharField(max_length=20)
    options = serializers.ListField(child=serializers.CharField(max_length=120), max_length=500)


class VisibleSerializer(serializers.Serializer):
    """What one side's scope lets the partner see."""

    projects = VisibleProjectSerializer(many=True)
    issue_types = VisibleIssueTypeSerializer(many=True)
    mappable_fields = VisibleFieldSerializer(many=True, required=False)


class InvitationPayload(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    sync_type = serializers.ChoiceField(choices=["cloud_to_cloud"])
    visible = VisibleSerializer()


class VisiblePayload(serializers.Serializer):
    visible = VisibleSerializer()


class EmptyPayload(serializers.Serializer):
    pass


class MappingWireSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(max_length=120)
    inviter_project = serializers.CharField(max_length=10)
    invitee_project = serializers.CharField(max_length=10)
    issue_types = serializers.ListField(child=serializers.DictField(child=serializers.CharField()), max_length=100)
    field_pairs = serializers.ListField(child=serializers.DictField(child=serializers.CharField()), max_length=200)
    value_maps = serializers.DictField(child=serializers.ListField(child=serializers.DictField(
        child=serializers.CharField())))
    comments = serializers.CharField(max_length=20)
    filter = serializers.CharField(max_length=500, allow_blank=True)
    enabled = serializers.BooleanField()
    version = serializers.IntegerField(min_value=1)
    updated_at = serializers.CharField(max_length=40)
    updated_by = serializers.CharField(max_length=300, allow_blank=True)

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        value["id"] = str(value["id"])
        return value


class MappingSavedPayload(serializers.Serializer):
    mapping = MappingWireSerializer()


class MappingDeletedPayload(serializers.Serializer):
    id = serializers.UUIDField()
    version = serializers.IntegerField(min_value=1)


@dataclass(frozen=True)
class MessageType:
    name: str
    payload: type[serializers.Serializer]
    creates_synchronization: bool = False
    # A kind owned by another app (issue traffic): applied by this function, with the synchronization
    # locked, inside the inbox's transaction; it returns "applied" or "absorbed" and never refuses.
    apply: Callable[[Any, Envelope], str] | None = None


REGISTRY: dict[str, MessageType] = {
    t.name: t
    for t in [
        MessageType("invitation", InvitationPayload, creates_synchronization=True),
        MessageType("accept", VisiblePayload),
        MessageType("reject", EmptyPayload),
        MessageType("delete", EmptyPayload),
        MessageType("scope_changed", VisiblePayload),
        MessageType("mapping_saved", MappingSavedPayload),
        MessageType("mapping_deleted", MappingDeletedPayload),
    ]
}


def kind_register(kind: MessageType) -> None:
    """Add a kind owned by another app, from its AppConfig.ready()."""
    existing = REGISTRY.get(kind.name)
    if existing is not None and existing != kind:
        raise ValueError(f"message kind {kind.name!r} is registered twice")
    REGISTRY[kind.name] = kind


class EnvelopeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.CharField(max_length=40)  # one of REGISTRY, which apps extend in their ready()
    synchronization_id = serializers.UUIDField()
    sequence = serializers.IntegerField(min_value=1)
    sender = serializers.CharField(max_length=200)
    recipient = serializers.CharField(max_length=200)
    created_at = serializers.DateTimeField()
    payload = serializers.DictField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["type"] not in REGISTRY:
            raise serializers.ValidationError({"type": f"{attrs['type']!r} is not a kind of message this site knows"})
        payload = REGISTRY[attrs["type"]].payload(data=attrs["payload"])
        if not payload.is_valid():
            raise serializers.ValidationError({"payload": payload.errors})
        attrs["payload"] = payload.validated_data
        return attrs


@dataclass(frozen=True)
class Envelope:
    id: uuid.UUID
    type: str
    synchronization_id: uuid.UUID
    sequence: int
    sender: str
    recipient: str
    created_at: datetime
    payload: dict[str, Any]


class MalformedMessage(ValueError):
    pass


def envelope_encode(envelope: Envelope) -> bytes:
    data = {
        "id": str(envelope.id),
        "type": envelope.type,
        "synchronization_id": str(envelope.synchronization_id),
        "sequence": envelope.sequence,
        "sender": envelope.sender,
        "recipient": envelope.recipient,
        "created_at": envelope.created_at.isoformat(),
        "payload": envelope.payload,
    }
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


def envelope_decode(body: bytes) -> Envelope:
    return _envelope_from(_json_object(body))


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise MalformedMessage("the body is not valid JSON") from e
    if not isinstance(data, dict):
        raise MalformedMessage("the body is not a JSON object")
    return data


def _envelope_from(data: Any) -> Envelope:
    if not isinstance(data, dict):
        raise MalformedMessage("the message is not a JSON object")
    s = EnvelopeSerializer(data=data)
    if not s.is_valid():
        raise MalformedMessage(f"the message is not valid: {json.dumps(s.errors)}")
    return Envelope(**s.validated_data)


@dataclass(frozen=True)
class BatchItem:
    """One message of a batch: its envelope, or why it is malformed, and its canonical bytes."""

    envelope: Envelope | None
    error: str
    body: bytes


@dataclass(frozen=True)
class Batch:
    sender: str
    recipient: str
    items: list[BatchItem]


def batch_encode(*, sender: str, recipient: str, bodies: list[bytes]) -> bytes:
    """The stored message bodies, as they are, inside one batch document."""
    head = json.dumps({"recipient": recipient, "sender": sender}, separators=(",", ":"), sort_keys=True).encode()
    return head[:-1] + b',"messages":[' + b",".join(bodies) + b"]}"


def batch_decode(body: bytes) -> Batch:
    """Raise MalformedMessage if the batch itself is; a malformed message inside only marks its item."""
    data = _json_object(body)
    sender, recipient, messages = data.get("sender"), data.get("recipient"), data.get("messages")
    if not isinstance(sender, str) or not isinstance(recipient, str):
        raise MalformedMessage("the batch names no sender or no recipient")
    if not isinstance(messages, list) or not messages:
        raise MalformedMessage("the batch carries no messages")
    if len(messages) > MAX_BATCH_MESSAGES:
        raise MalformedMessage(f"a batch carries at most {MAX_BATCH_MESSAGES} messages")
    items = []
    for data in messages:
        # The bytes kept for a message are its canonical form, the same bytes the sender stored.
        raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
        try:
            items.append(BatchItem(_envelope_from(data), "", raw))
        except MalformedMessage as e:
            items.append(BatchItem(None, str(e), raw))
    return Batch(sender, recipient, items)
