"""The one place issue sync touches the wire: its message kinds and how it sends one.

Three kinds, all upserts keyed by the origin issue, so that any of them may arrive twice:
- `issue_state`: the sender's issue (id, key, address) and the mapped fields that changed,
  each with its clock; the first one from the origin creates the partner copy.
- `comment_state`: one comment's latest body (or its deletion), keyed by the origin comment.
- `comments_state`: several comments of one issue in one message, each as `comment_state` says it
  (a first synchronization sends an issue's existing comments so: as many messages as the size cap
  needs, not one per comment).

And for Connect existing (replication.connect), on the same per-issue streams: `issue_connect` asks the
partner to link its one issue matching ours (by equal summary or by its key), and `issue_connect_result`
answers matched / ambiguous / unmatched. Both are idempotent: a repeat finds the link made the first time.

Each issue has its own stream on the link (`issue:<origin site>/<origin issue id>`), so one issue's
waiting or refused message never holds back the other issues or the synchronization's lifecycle.
Their handler refuses only a message for a synchronization this site does not hold: any other
problem becomes that issue's error on the receiving site (Retry / Skip), never a refusal.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import uuid
from contextlib import AbstractContextManager
from typing import Any

from django.conf import settings
from django.db.models import Value
from django.db.models.functions import Concat
from rest_framework import serializers

from invitations.kinds import Incoming, MessageKind, NotApplicable, Text, kind_register
from invitations.messages import Envelope, envelope_encode
from invitations.outbox import outbox_write, outbox_write_many
from synchronizations.models import Synchronization
from synchronizations.services import synchronization_row

ISSUE_STATE = "issue_state"
COMMENT_STATE = "comment_state"
COMMENTS_STATE = "comments_state"
MAX_COMMENTS_PER_MESSAGE = 50  # keeps one message's apply short, whatever the size cap allows
ISSUE_CONNECT = "issue_connect"
ISSUE_CONNECTED = "issue_connect_result"
# Room kept below the inbox's cap for the envelope around the payload and the batch around it.
ENVELOPE_ROOM_BYTES = 2048
STREAM_MAX_LENGTH = 80  # LinkStream.stream and the envelope's stream field


class IssueStatePayload(serializers.Serializer):
    origin_site = Text(max_length=200)
    origin_issue_id = Text(max_length=32)
    mapping_id = serializers.UUIDField()
    issue_id = Text(max_length=32)  # the sender's own issue
    key = Text(max_length=32)
    url = Text(max_length=500)
    issue_type = Text(max_length=60)
    values = serializers.DictField(child=serializers.DictField(), required=False, default=dict)  # field: {v, c}
    source_deleted = serializers.BooleanField(required=False, default=False)

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        value["mapping_id"] = str(value["mapping_id"])
        return value


class CommentItem(serializers.Serializer):
    """One comment's state: who wrote it where, its body (None once deleted) and its clock."""

    comment_site = Text(max_length=200)
    comment_id = Text(max_length=32)
    author = Text(max_length=200, allow_blank=True)
    body = serializers.DictField(allow_null=True, required=False, default=None)
    clock = serializers.ListField(child=Text(max_length=200), min_length=2, max_length=2)
    deleted = serializers.BooleanField(required=False, default=False)


class CommentStatePayload(CommentItem):
    origin_site = Text(max_length=200)
    origin_issue_id = Text(max_length=32)


class CommentsStatePayload(serializers.Serializer):
    origin_site = Text(max_length=200)
    origin_issue_id = Text(max_length=32)
    comments = serializers.ListField(child=CommentItem(), min_length=1, max_length=MAX_COMMENTS_PER_MESSAGE)


class IssueConnectPayload(serializers.Serializer):
    """Connect existing: "link your issue that matches mine, if exactly one does" (nothing is copied)."""

    origin_site = Text(max_length=200)
    origin_issue_id = Text(max_length=32)
    mapping_id = serializers.UUIDField()
    issue_id = Text(max_length=32)
    key = Text(max_length=32)
    url = Text(max_length=500)
    issue_type = Text(max_length=60)
    by = serializers.ChoiceField(choices=["summary", "key"])  # an equal summary, or the partner's issue key
    value = Text(max_length=255)
    run_id = serializers.UUIDField()
    dry_run = serializers.BooleanField(default=False)

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        value["mapping_id"], value["run_id"] = str(value["mapping_id"]), str(value["run_id"])
        return value


class IssueConnectedPayload(serializers.Serializer):
    """The answer: matched (and linked, unless a dry run), matched ambiguously (left alone), or not matched."""

    origin_site = Text(max_length=200)
    origin_issue_id = Text(max_length=32)
    mapping_id = serializers.UUIDField()
    run_id = serializers.UUIDField()
    outcome = serializers.ChoiceField(choices=["matched", "ambiguous", "unmatched"])
    issue_id = Text(max_length=32, allow_blank=True)
    key = Text(max_length=32, allow_blank=True)
    url = Text(max_length=500, allow_blank=True)
    detail = Text(max_length=300, allow_blank=True)
    dry_run = serializers.BooleanField(default=False)

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        value["mapping_id"], value["run_id"] = str(value["mapping_id"]), str(value["run_id"])
        return value


def _issue_words(payload: dict[str, Any]) -> str:
    if payload.get("source_deleted"):
        return f"Issue {payload['key']}: its source was deleted"
    fields = ", ".join(sorted(payload.get("values") or {}))
    return f"Issue {payload['key']}" + (f": {fields}" if fields else "")


def _comment_words(payload: dict[str, Any]) -> str:
    what = "deleted" if payload.get("deleted") else "by " + (payload.get("author") or "someone")
    return f"Comment {payload['comment_id']} {what}"


def _comments_words(payload: dict[str, Any]) -> str:
    comments = payload.get("comments") or []
    authors = sorted({c.get("author") or "someone" for c in comments})
    return f"{len(comments)} comment{'s' if len(comments) != 1 else ''} by {', '.join(authors)}"


def _connect_words(payload: dict[str, Any]) -> str:
    by = "summary" if payload.get("by") == "summary" else "key"
    return f"Connect {payload['key']} by {by} “{payload.get('value', '')}”"


def _connected_words(payload: dict[str, Any]) -> str:
    return f"Connect {payload['origin_issue_id']}: {payload['outcome']}" + (
        f" {payload['key']}" if payload.get("key") else "")


def _issue_connect_apply(message: Incoming) -> str:
    from replication.connect import issue_connect_apply

    return issue_connect_apply(sync=_locked(message), sender=message.sender, payload=message.payload)


def _issue_connected_apply(message: Incoming) -> str:
    from replication.connect import issue_connected_apply

    return issue_connected_apply(sync=_locked(message), sender=message.sender, payload=message.payload)


def _issue_state_apply(message: Incoming) -> str:
    from replication.services import issue_state_apply

    return str(issue_state_apply(sync=_read(message), sender=message.sender, payload=message.payload))


def _comment_state_apply(message: Incoming) -> str:
    from replication.services import comment_state_apply

    return str(comment_state_apply(sync=_read(message), sender=message.sender, payload=message.payload))


def _comments_state_apply(message: Incoming) -> str:
    from replication.services import comments_state_apply

    return str(comments_state_apply(sync=_read(message), sender=message.sender, payload=message.payload))


def _decisions_memoized() -> AbstractContextManager[None]:
    from replication.services import decisions_memoized

    return decisions_memoized()


def _read(message: Incoming) -> Synchronization:
    # An issue's or a comment's state (a concurrent kind): the inbox holds the link, in share mode at
    # least, so nothing changes the synchronization meanwhile (read once for the request's messages of
    # these kinds, which change none of it); the handler locks the issue's link row.
    from replication.services import memoized

    return memoized(("synchronization", message.link_id), lambda: _locked(message, lock=False))


def _locked(message: Incoming, *, lock: bool = True) -> Synchronization:
    # The inbox holds the link's lock; the synchronization is locked next, the order issue_push and the
    # admin's fixes take too (synchronizations.services.synchronization_locked): never crosswise.
    sync = synchronization_row(message.link_id, lock=lock)
    if sync is None:
        raise NotApplicable("this site holds no synchronization for this message")
    return sync


KINDS = [
    MessageKind(ISSUE_STATE, IssueStatePayload, _issue_state_apply, _issue_words, label="Issue state",
                batch=_decisions_memoized, concurrent=True),
    MessageKind(COMMENT_STATE, CommentStatePayload, _comment_state_apply, _comment_words, label="Comment state",
                batch=_decisions_memoized, concurrent=True),
    MessageKind(COMMENTS_STATE, CommentsStatePayload, _comments_state_apply, _comments_words,
                label="Comments state", batch=_decisions_memoized, concurrent=True),
    MessageKind(ISSUE_CONNECT, IssueConnectPayload, _issue_connect_apply, _connect_words, label="Connect issue"),
    MessageKind(ISSUE_CONNECTED, IssueConnectedPayload, _issue_connected_apply, _connected_words,
                label="Issue connected"),
]


def kinds_register() -> None:
    """Called from `ReplicationConfig.ready()`."""
    for kind in KINDS:
        kind_register(kind)


def issue_stream(origin_site: str, origin_issue_id: str) -> str:
    """One stream per issue, named by its origin issue (the same name on both sites)."""
    stream = f"issue:{origin_site}/{origin_issue_id}"
    if len(stream) <= STREAM_MAX_LENGTH:
        return stream
    # An unusually long site address: a stable digest keeps the name within the column.
    return "issue:" + hashlib.blake2b(stream.encode(), digest_size=32).hexdigest()


def issue_stream_sql(origin_site: Any, origin_issue_id: Any) -> Concat:
    """`issue_stream` as a database expression of two columns (a query asking for an issue's messages). A site
    address long enough for the digest is not matched: who asks must take that as "no message"."""
    return Concat(Value("issue:"), origin_site, Value("/"), origin_issue_id)


def message_size(kind: str, payload: dict[str, Any]) -> int:
    """The bytes a message with this payload takes on the wire (the envelope as it is stored)."""
    envelope = Envelope(id=uuid.uuid4(), type=kind, synchronization_id=uuid.uuid4(), sequence=1,
                        sender=settings.SITE_ADDRESS, recipient="", created_at=datetime.datetime.now(datetime.UTC),
                        payload=payload, stream=issue_stream(payload["origin_site"], payload["origin_issue_id"]))
    return len(envelope_encode(envelope))


def item_size(item: dict[str, Any]) -> int:
    """The bytes one more item takes in a payload's list, its comma included (encoded as the envelope is)."""
    return len(json.dumps(item, separators=(",", ":"), sort_keys=True)) + 1


def size_cap() -> int:
    return int(settings.INBOUND_MAX_BODY_BYTES) - ENVELOPE_ROOM_BYTES


def send(sync: Synchronization, kind: str, payload: dict[str, Any]) -> None:
    """Write the message in the caller's transaction, on its issue's stream (`sync` locked by the caller).

    An issue's changes made while its previous message still waits to be sent join that message
    (`issue_state_merge`): after a burst of edits, or while the partner is away, the partner gets
    one message with the latest values rather than one per edit.
    """
    merge = (lambda sent: issue_state_merge(sent, payload)) if kind == ISSUE_STATE else None
    outbox_write(link_id=sync.id, message_type=kind, payload=payload, merge=merge,
                 stream=issue_stream(payload["origin_site"], payload["origin_issue_id"]), created_by="Issue Sync")


def send_many(sync: Synchronization, origin_site: str, origin_issue_id: str,
              messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Several messages of one issue's stream, in order, in one write and with one doorbell."""
    outbox_write_many(link_id=sync.id, stream=issue_stream(origin_site, origin_issue_id), messages=messages,
                      created_by="Issue Sync")


def issue_state_merge(sent: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    """One issue_state payload that says both `sent` (not sent yet) and the later `new`, or None.

    Each field travels with its clock and `new` was computed after `sent` (from the link that already
    remembers what `sent` carries), so its fields replace `sent`'s and `sent`'s other fields stay.
    A deletion, another mapping or a result over the size cap is not merged: it goes as its own message.
    """
    same = all(sent.get(k) == new.get(k) for k in ("origin_site", "origin_issue_id", "mapping_id"))
    if not same or sent.get("source_deleted") or new.get("source_deleted"):
        return None
    merged = {**new, "values": {**(sent.get("values") or {}), **(new.get("values") or {})}}
    return merged if message_size(ISSUE_STATE, merged) <= size_cap() else None

