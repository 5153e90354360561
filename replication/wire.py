"""The one place issue sync touches the wire: its message kinds and how it sends one.

Two kinds, both upserts keyed by the origin issue, so that any of them may arrive twice:
- `issue_state`: the sender's issue (id, key, address) and the mapped fields that changed,
  each with its clock; the first one from the origin creates the partner copy.
- `comment_state`: one comment's latest body (or its deletion), keyed by the origin comment.

They travel on the synchronization's ordered stream, and their handler never refuses a message
(a problem becomes that issue's error on the receiving site), so one issue's trouble never holds
back the other issues or the synchronization's lifecycle messages.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from invitations.messages import Envelope, MessageType, envelope_encode, kind_register
from invitations.outbox import outbox_write
from synchronizations.models import Synchronization

ISSUE_STATE = "issue_state"
COMMENT_STATE = "comment_state"
# Room kept below the inbox's cap for the envelope around the payload and the batch around it.
ENVELOPE_ROOM_BYTES = 2048


class IssueStatePayload(serializers.Serializer):
    origin_site = serializers.CharField(max_length=200)
    origin_issue_id = serializers.CharField(max_length=32)
    mapping_id = serializers.UUIDField()
    issue_id = serializers.CharField(max_length=32)  # the sender's own issue
    key = serializers.CharField(max_length=32)
    url = serializers.CharField(max_length=500)
    issue_type = serializers.CharField(max_length=60)
    values = serializers.DictField(child=serializers.DictField(), required=False, default=dict)  # field: {v, c}
    source_deleted = serializers.BooleanField(required=False, default=False)

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        value["mapping_id"] = str(value["mapping_id"])
        return value


class CommentStatePayload(serializers.Serializer):
    origin_site = serializers.CharField(max_length=200)
    origin_issue_id = serializers.CharField(max_length=32)
    comment_site = serializers.CharField(max_length=200)
    comment_id = serializers.CharField(max_length=32)
    author = serializers.CharField(max_length=200, allow_blank=True)
    body = serializers.DictField(allow_null=True, required=False, default=None)
    clock = serializers.ListField(child=serializers.CharField(max_length=200), min_length=2, max_length=2)
    deleted = serializers.BooleanField(required=False, default=False)


def kinds_register() -> None:
    from replication.services import comment_state_apply, issue_state_apply

    kind_register(MessageType(ISSUE_STATE, IssueStatePayload, apply=_adapt(issue_state_apply)))
    kind_register(MessageType(COMMENT_STATE, CommentStatePayload, apply=_adapt(comment_state_apply)))


def _adapt(handler: Any) -> Any:
    def apply(sync: Synchronization, envelope: Envelope) -> str:
        return str(handler(sync=sync, sender=envelope.sender, payload=envelope.payload))

    apply.__name__ = handler.__name__
    return apply


def message_size(kind: str, payload: dict[str, Any]) -> int:
    """The bytes a message with this payload takes on the wire (the envelope as it is stored)."""
    import datetime
    import uuid

    envelope = Envelope(id=uuid.uuid4(), type=kind, synchronization_id=uuid.uuid4(), sequence=1,
                        sender=settings.SITE_ADDRESS, recipient="", created_at=datetime.datetime.now(datetime.UTC),
                        payload=payload)
    return len(envelope_encode(envelope))


def size_cap() -> int:
    return int(settings.INBOUND_MAX_BODY_BYTES) - ENVELOPE_ROOM_BYTES


def send(sync: Synchronization, kind: str, payload: dict[str, Any]) -> None:
    """Write the message in the caller's transaction; `sync` is locked by the caller and saved here."""
    sync.last_sent_sequence += 1
    outbox_write(synchronization_id=sync.id, recipient=sync.partner_address, sequence=sync.last_sent_sequence,
                 message_type=kind, payload=payload, created_by="Issue Sync")
    sync.save(update_fields=["last_sent_sequence"])


def sync_locked(sync_id: Any) -> Synchronization | None:
    return Synchronization.objects.select_for_update().select_related("scope").filter(pk=sync_id).first()
