"""The message format.

Every message is a JSON envelope: a unique id, its kind (`type`), the shared
synchronization id (the link), its stream within the link ("" is the link's own
lifecycle; absent means ""), a sequence number per stream, sender and recipient
addresses, a creation time and a kind-specific payload. The kinds and their payloads
are registered by the apps that own them (invitations.kinds).
"""
from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rest_framework import serializers

from invitations.kinds import LIFECYCLE, Text, kind_get

PROTOCOL_VERSION = 1
INBOX_PATH = "/wire/v1/messages"
# Several messages to one partner in one signed request: {"sender", "recipient", "messages": [...]}.
BATCH_PATH = "/wire/v1/batches"
MAX_BATCH_MESSAGES = 100


class EnvelopeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = Text(max_length=40)
    synchronization_id = serializers.UUIDField()
    stream = Text(max_length=80, required=False, allow_blank=True, default=LIFECYCLE)
    sequence = serializers.IntegerField(min_value=1)
    sender = Text(max_length=200)
    recipient = Text(max_length=200)
    created_at = serializers.DateTimeField()
    payload = serializers.DictField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = kind_get(attrs["type"])
        if kind is None:
            raise serializers.ValidationError({"type": f"{attrs['type']!r} is not a kind of message this site knows"})
        try:
            attrs["payload"] = _validator(kind.payload).run_validation(attrs["payload"])
        except serializers.ValidationError as e:
            raise serializers.ValidationError({"payload": e.detail}) from e
        return attrs


_validators = threading.local()


def _validator(cls: type[serializers.Serializer]) -> serializers.Serializer:
    """This thread's instance of a wire serializer, made once and used for every message it validates.

    A new DRF serializer deep-copies its declared fields (for an invitation's nested lists, twice the
    time the validation itself takes); `run_validation` keeps nothing of one message for the next,
    except a nested list's `initial_data` while it runs, hence one instance per thread, never shared.
    """
    made: dict[type[serializers.Serializer], serializers.Serializer] = _validators.__dict__.setdefault("made", {})
    instance = made.get(cls)
    if instance is None:
        instance = made[cls] = cls()
    return instance


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
    stream: str = LIFECYCLE


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
    if envelope.stream != LIFECYCLE:
        data["stream"] = envelope.stream  # absent for the lifecycle: the bytes older sites sent and expect
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


def envelope_decode(body: bytes) -> Envelope:
    return envelope_from(_json_object(body))


@dataclass(frozen=True)
class Addressed:
    """A single message read only as far as who sends it to whom: what the signature check needs."""

    sender: str
    recipient: str
    data: dict[str, Any]


def addressed_decode(body: bytes) -> Addressed:
    """Raise MalformedMessage if the body is no JSON object naming its sender and recipient."""
    data = _json_object(body)
    sender, recipient = data.get("sender"), data.get("recipient")
    if not isinstance(sender, str) or not isinstance(recipient, str):
        raise MalformedMessage("the message names no sender or no recipient")
    return Addressed(sender, recipient, data)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise MalformedMessage("the body is not valid JSON") from e
    if not isinstance(data, dict):
        raise MalformedMessage("the body is not a JSON object")
    return data


def envelope_from(data: Any) -> Envelope:
    if not isinstance(data, dict):
        raise MalformedMessage("the message is not a JSON object")
    try:
        validated = _validator(EnvelopeSerializer).run_validation(data)
    except serializers.ValidationError as e:
        raise MalformedMessage(f"the message is not valid: {json.dumps(e.detail)}") from e
    return Envelope(**validated)


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
            items.append(BatchItem(envelope_from(data), "", raw))
        except MalformedMessage as e:
            items.append(BatchItem(None, str(e), raw))
    return Batch(sender, recipient, items)
