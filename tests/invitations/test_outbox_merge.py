"""Rewriting a stream's last message that has never been sent (`outbox_write(merge=...)`), and only that."""
from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
from django.db import connection, transaction

from invitations.models import DeliveryState, LinkStream, OutboxMessage
from invitations.outbox import link_open, outbox_write
from sitectl import wait_for
from tests.factories import BETA

STREAM = "issue:https://alpha.atlassian.net/1"


def _link() -> uuid.UUID:
    link_id = uuid.uuid4()
    link_open(link_id=link_id, partner_address=BETA, partner_key_id="k", partner_public_key_pem="pem")
    return link_id


def _write(link_id: uuid.UUID, n: int, kind: str = "issue_state") -> OutboxMessage:
    def merge(sent: dict[str, Any]) -> dict[str, Any] | None:
        return {"n": sent["n"] + [n]}

    with transaction.atomic():
        return outbox_write(link_id=link_id, message_type=kind, payload={"n": [n]}, stream=STREAM, merge=merge)


def _payloads(link_id: uuid.UUID) -> list[tuple[int, list[int]]]:
    rows = OutboxMessage.objects.filter(synchronization_id=link_id).order_by("sequence")
    return [(r.sequence, json.loads(bytes(r.body))["payload"]["n"]) for r in rows]


@pytest.mark.django_db
def test_an_unsent_last_message_is_rewritten_and_one_already_tried_is_not() -> None:
    link_id = _link()
    first = _write(link_id, 1)
    assert _write(link_id, 2).pk == first.pk
    assert _payloads(link_id) == [(1, [1, 2])]
    # Tried once (a worker claimed it; the partner may hold it already): never rewritten again.
    OutboxMessage.objects.filter(pk=first.pk).update(state=DeliveryState.PENDING, attempts=1)
    _write(link_id, 3)
    _write(link_id, 4)
    # Another kind in between: the message before it is not the stream's last, so not rewritten.
    _write(link_id, 5, kind="comment_state")
    _write(link_id, 6)
    assert _payloads(link_id) == [(1, [1, 2]), (2, [3, 4]), (3, [5]), (4, [6])]
    assert LinkStream.objects.get(link_id=link_id, stream=STREAM).last_sent == 4
    body = json.loads(bytes(OutboxMessage.objects.get(synchronization_id=link_id, sequence=2).body))
    assert (body["sequence"], body["stream"], body["recipient"]) == (2, STREAM, BETA)


@pytest.mark.django_db(transaction=True)
def test_a_message_claimed_while_the_writer_waits_for_it_is_left_alone_and_the_change_gets_its_own() -> None:
    link_id = _link()
    first = _write(link_id, 1)
    written: list[OutboxMessage] = []

    def writer() -> None:
        try:
            written.append(_write(link_id, 2))
        finally:
            connection.close()

    # A worker's claim holds the row: the writer waits for it, then finds it claimed.
    with transaction.atomic():
        OutboxMessage.objects.select_for_update().get(pk=first.pk)
        thread = threading.Thread(target=writer)
        thread.start()
        wait_for(lambda: _waiting_for_a_lock(), timeout=5, what="the writer to wait for the claimed row")
        OutboxMessage.objects.filter(pk=first.pk).update(state=DeliveryState.DELIVERING, attempts=1)
    thread.join(timeout=10)
    assert written and written[0].pk != first.pk
    assert _payloads(link_id) == [(1, [1]), (2, [2])]


def _waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else the same snapshot all transaction long
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND datname = current_database()")
        return bool(cursor.fetchone()[0])
