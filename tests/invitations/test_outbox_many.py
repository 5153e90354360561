"""Several messages of one stream written at once: consecutive sequences, in order, one doorbell for the last."""
from __future__ import annotations

import json
import uuid
from typing import Any
from unittest import mock

import pytest

from invitations import outbox
from invitations.models import LinkStream, OutboxMessage

pytestmark = pytest.mark.django_db


def test_it_writes_them_in_order_after_what_the_stream_holds_and_rings_once_for_the_last() -> None:
    link_id = uuid.uuid4()
    outbox.link_open(link_id=link_id, partner_address="https://beta.atlassian.net", partner_key_id="k",
                     partner_public_key_pem="pem")
    first = outbox.outbox_write(link_id=link_id, message_type="delete", payload={}, stream="s")
    with mock.patch.object(outbox, "ring_after_commit") as ring:
        rows = outbox.outbox_write_many(link_id=link_id, stream="s", messages=[("delete", {}), ("reject", {})])
    assert [r.sequence for r in rows] == [first.sequence + 1, first.sequence + 2]
    ring.assert_called_once_with(rows[-1].id, recipient="https://beta.atlassian.net")
    stored = OutboxMessage.objects.filter(stream="s").order_by("sequence")
    assert [json.loads(bytes(m.body))["type"] for m in stored] == ["delete", "delete", "reject"]
    assert LinkStream.objects.get(link_id=link_id, stream="s").last_sent == 3
    assert outbox.outbox_write_many(link_id=link_id, stream="new", messages=[]) == []


def test_doorbells_held_collects_the_messages_written_and_rings_none_of_them(
    django_capture_on_commit_callbacks: Any,
) -> None:
    link_id = uuid.uuid4()
    outbox.link_open(link_id=link_id, partner_address="https://beta.atlassian.net", partner_key_id="k",
                     partner_public_key_pem="pem")
    with django_capture_on_commit_callbacks() as rings:
        with outbox.doorbells_held() as written:
            one = outbox.outbox_write(link_id=link_id, message_type="delete", payload={}, stream="s")
            many = outbox.outbox_write_many(link_id=link_id, stream="s", messages=[("delete", {}), ("delete", {})])
        assert written == [one.id, many[-1].id] and rings == []
        outbox.ring_after_commit(written[-1])  # outside the block: rings as ever
    assert len(rings) == 1
