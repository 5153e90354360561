"""Delivering outbox messages: one send per claim under concurrency, batches, the delivery state, an admin's retry.

The partner cannot run in-process, so only the transport seam is patched.
"""
from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta
from typing import Any
from unittest import mock

import psycopg.sql
import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from invitations import delivery, transport
from invitations.delivery import outbox_deliver
from invitations.keys import site_private_key
from invitations.messages import BATCH_PATH, INBOX_PATH, envelope_encode
from invitations.models import DeliveryState, OutboxMessage
from synchronizations import selectors
from synchronizations.models import Synchronization
from synchronizations.selectors import synchronization_delivery
from tests.factories import BETA, envelope, synchronization


def _outbox(sync: Synchronization, sequence: int = 1) -> OutboxMessage:
    now = timezone.now()
    env = envelope(type="delete", synchronization_id=sync.pk, sequence=sequence, sender="https://alpha.atlassian.net",
                   recipient=BETA)
    return OutboxMessage.objects.create(
        id=env.id, synchronization_id=sync.pk, sequence=sequence, message_type="delete", recipient=BETA,
        body=envelope_encode(env), next_attempt_at=now, give_up_at=now + timedelta(days=1), created_at=now,
    )


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_the_same_message_send_it_once() -> None:
    message = _outbox(synchronization())
    sends: list[str] = []
    returned = threading.Semaphore(0)
    start = threading.Barrier(2, timeout=10)

    def slow_send(*args: Any, **kwargs: Any) -> transport.Response:
        sends.append(threading.current_thread().name)
        # Hold the claim until the other worker has tried and given up: if it
        # could also claim, it would be here too and both would send.
        returned.acquire(timeout=3)
        return transport.Response(200, b'{"status": "applied"}')

    def worker() -> None:
        try:
            start.wait()
            outbox_deliver(outbox_id=message.pk)
        finally:
            returned.release()
            connection.close()

    with mock.patch.object(transport, "request", side_effect=slow_send):
        threads = [threading.Thread(target=worker, name=f"worker-{i}") for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=15)
    assert len(sends) == 1
    message.refresh_from_db()
    assert (message.state, message.attempts) == (DeliveryState.DELIVERED, 1)


@pytest.mark.django_db(transaction=True)
@override_settings(DELIVERY_LEASE_SECONDS=1)
def test_it_keeps_extending_the_lease_while_a_slow_send_runs_so_no_other_worker_claims_it() -> None:
    message = _outbox(synchronization())
    seen: list[Any] = []
    second: list[dict[uuid.UUID, float]] = []

    def slow_send(*args: Any, **kwargs: Any) -> transport.Response:
        # Three leases long: a second worker rung meanwhile finds the message still claimed.
        deadline = timezone.now() + timedelta(seconds=3)
        while timezone.now() < deadline:
            seen.append(OutboxMessage.objects.filter(pk=message.pk).values_list("claimed_until", flat=True).get())
            threading.Event().wait(0.25)
        def other_worker() -> None:
            second.append(outbox_deliver(outbox_id=message.pk))
            connection.close()

        other = threading.Thread(target=other_worker)
        other.start()
        other.join(timeout=10)
        return transport.Response(200, b'{"status": "applied"}')

    with mock.patch.object(transport, "request", side_effect=slow_send) as send:
        outbox_deliver(outbox_id=message.pk)
    assert send.call_count == 1 and second == [{}]
    assert len(set(seen)) >= 3  # extended again and again
    message.refresh_from_db()
    assert (message.state, message.attempts) == (DeliveryState.DELIVERED, 1)


def _fail(permanent: bool) -> Any:
    error = transport.TransportError("https://beta.atlassian.net could not be reached", permanent=permanent)
    return mock.patch.object(transport, "request", side_effect=error)


def _ok() -> Any:
    return mock.patch.object(transport, "request", return_value=transport.Response(200, b"{}"))


@pytest.mark.django_db
def test_the_delivery_state_is_delivered_pending_with_attempts_or_failed_with_why(admin_client: Client) -> None:
    sync = synchronization()
    message = _outbox(sync)
    assert synchronization_delivery(sync).state == "pending"

    with _fail(permanent=False):
        retries = outbox_deliver(outbox_id=message.pk)
    assert list(retries) == [message.pk] and retries[message.pk] > 0
    info = admin_client.get(f"/api/synchronizations/{sync.pk}/").json()["delivery"]
    assert (info["state"], info["attempts"]) == ("pending", 1)
    assert info["error"] == "https://beta.atlassian.net could not be reached"
    assert info["next_attempt_at"] is not None

    # Not due yet: a second doorbell does not send early (the retry put a minute ahead, so that a slow
    # machine taking longer than the first backoff over the request above cannot make it due).
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() + timedelta(seconds=60))
    with _ok() as send:
        assert outbox_deliver(outbox_id=message.pk) == {}
    send.assert_not_called()

    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    with _fail(permanent=True):
        assert outbox_deliver(outbox_id=message.pk) == {}
    info = admin_client.get(f"/api/synchronizations/{sync.pk}/").json()["delivery"]
    assert (info["state"], info["attempts"], info["failed_message_id"]) == ("failed", 2, str(message.pk))
    assert "could not be reached" in info["error"]


@pytest.mark.django_db
def test_a_message_past_its_retry_window_fails() -> None:
    sync = synchronization()
    message = _outbox(sync)
    OutboxMessage.objects.filter(pk=message.pk).update(give_up_at=timezone.now() - timedelta(seconds=1))
    with _fail(permanent=False):
        assert outbox_deliver(outbox_id=message.pk) == {}
    assert synchronization_delivery(sync).state == "failed"


@pytest.mark.django_db
def test_an_admin_retries_a_failed_message_and_it_is_delivered(
    admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    sync = synchronization()
    message = _outbox(sync)
    with _fail(permanent=True):
        outbox_deliver(outbox_id=message.pk)
    with mock.patch("invitations.tasks.deliver_message.delay") as ring:
        with django_capture_on_commit_callbacks(execute=True):
            r = admin_client.post(f"/api/synchronizations/{sync.pk}/retry/")
    assert r.status_code == 200, r.content
    assert r.json()["delivery"]["state"] == "pending"
    ring.assert_called_once_with(str(message.pk))
    with _ok():
        outbox_deliver(outbox_id=message.pk)
    assert admin_client.get(f"/api/synchronizations/{sync.pk}/").json()["delivery"]["state"] == "delivered"


@pytest.mark.django_db
def test_retry_without_a_failed_message_is_a_conflict(admin_client: Client) -> None:
    sync = synchronization()
    _outbox(sync)
    r = admin_client.post(f"/api/synchronizations/{sync.pk}/retry/")
    assert r.status_code == 409
    assert r.json() == {"detail": "No failed message to retry."}
    assert admin_client.post(f"/api/synchronizations/{uuid.uuid4()}/retry/").status_code == 404


def _sent_ids(body: bytes) -> list[str]:
    data = json.loads(body)
    return [m["id"] for m in data["messages"]] if "messages" in data else [data["id"]]


def _partner(answer: Any = None) -> Any:
    """The transport seam answering like the partner's inbox: every message applied, unless `answer` says."""
    sent: list[tuple[str, list[str]]] = []

    def send(method: str, address: str, path: str, *, body: bytes, headers: dict[str, str]) -> transport.Response:
        ids = _sent_ids(body)
        sent.append((path, ids))
        if path == INBOX_PATH:
            return transport.Response(200, b'{"status": "applied"}')
        results = [answer(i) if answer else {"id": i, "code": 200, "status": "applied"} for i in ids]
        return transport.Response(200, json.dumps({"results": results}).encode())

    patch = mock.patch.object(transport, "request", side_effect=send)
    return patch, sent


@pytest.mark.django_db(transaction=True)
@override_settings(DELIVERY_BATCH_SIZE=7)
def test_workers_ringing_at_once_claim_disjoint_batches_and_send_each_message_once() -> None:
    messages = [_outbox(synchronization()) for _ in range(60)]
    patch, sent = _partner()
    start = threading.Barrier(6, timeout=10)

    def worker(rung: list[OutboxMessage]) -> None:
        try:
            start.wait()
            for m in rung:
                outbox_deliver(outbox_id=m.pk)
        finally:
            connection.close()

    with patch:
        # Every message has its doorbell, rung by one of six workers at once.
        threads = [threading.Thread(target=worker, args=(messages[i::6],)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    sent_ids = [i for _, ids in sent for i in ids]
    assert sorted(sent_ids) == sorted(str(m.pk) for m in messages)  # each exactly once
    assert max(len(ids) for _, ids in sent) == 7
    assert all(path == BATCH_PATH for path, ids in sent if len(ids) > 1)
    assert set(OutboxMessage.objects.values_list("state", "attempts", "claim")) == {
        (DeliveryState.DELIVERED, 1, None)}


@pytest.mark.django_db
def test_each_message_of_a_batch_keeps_its_own_outcome(admin_client: Client) -> None:
    syncs = [synchronization() for _ in range(3)]
    ok, later, refused = (_outbox(s) for s in syncs)
    answers = {
        str(ok.pk): {"code": 200, "status": "applied"},
        str(later.pk): {"code": 425, "error": "waiting for message #1 first", "retry_after": 1},
        str(refused.pk): {"code": 422, "error": "accept does not apply"},
    }
    patch, sent = _partner(lambda i: {"id": i, **answers[i]})
    with patch:
        retries = outbox_deliver(outbox_id=ok.pk)
    assert [(path, sorted(ids)) for path, ids in sent] == [(BATCH_PATH, sorted(answers))]
    assert list(retries) == [later.pk] and retries[later.pk] >= 1
    states = {s.pk: admin_client.get(f"/api/synchronizations/{s.pk}/").json()["delivery"] for s in syncs}
    assert states[syncs[0].pk]["state"] == "delivered"
    assert (states[syncs[1].pk]["state"], states[syncs[1].pk]["attempts"]) == ("pending", 1)
    assert states[syncs[1].pk]["error"] == "https://beta.atlassian.net answered 425: waiting for message #1 first"
    assert (states[syncs[2].pk]["state"], states[syncs[2].pk]["error"]) == (
        "failed", "https://beta.atlassian.net answered 422: accept does not apply")


@pytest.mark.django_db
def test_a_failed_batch_request_is_retried_for_every_message_in_it() -> None:
    messages = [_outbox(synchronization()) for _ in range(3)]
    with _fail(permanent=False):
        retries = outbox_deliver(outbox_id=messages[0].pk)
    assert set(retries) == {m.pk for m in messages}
    assert set(OutboxMessage.objects.values_list("state", "attempts")) == {(DeliveryState.PENDING, 1)}


@pytest.mark.django_db
def test_messages_of_one_synchronization_are_sent_in_sequence_and_only_what_is_due() -> None:
    sync = synchronization()
    first, second = _outbox(sync, 1), _outbox(sync, 2)
    not_due = _outbox(synchronization())
    OutboxMessage.objects.filter(pk=not_due.pk).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    patch, sent = _partner()
    with patch:
        outbox_deliver(outbox_id=second.pk)
    assert sent == [(BATCH_PATH, [str(first.pk), str(second.pk)])]
    assert OutboxMessage.objects.get(pk=not_due.pk).state == DeliveryState.PENDING


@pytest.mark.django_db
def test_a_batch_stays_under_the_partners_size_cap() -> None:
    messages = [_outbox(synchronization()) for _ in range(5)]
    cap = 1024 + 2 * (len(bytes(messages[0].body)) + 1)
    patch, sent = _partner()
    with patch, override_settings(INBOUND_MAX_BODY_BYTES=cap):
        outbox_deliver(outbox_id=messages[0].pk)
    # Two a request; the doorbell goes on with the next batch while the partner takes them.
    assert [len(ids) for _, ids in sent] == [2, 2, 1]


@pytest.mark.django_db
def test_a_partner_without_the_batch_inbox_gets_each_message_alone_in_order() -> None:
    sync = synchronization()
    first, second = _outbox(sync, 1), _outbox(sync, 2)
    other = _outbox(synchronization())
    sent: list[tuple[str, list[str]]] = []

    def older_partner(method: str, address: str, path: str, *, body: bytes,
                      headers: dict[str, str]) -> transport.Response:
        sent.append((path, _sent_ids(body)))
        if path == BATCH_PATH:
            raise transport.refusal(address, 404, "not found")
        return transport.Response(200, b'{"status": "applied"}')

    with mock.patch.object(transport, "request", side_effect=older_partner):
        retries = outbox_deliver(outbox_id=first.pk)
    assert retries == {}
    assert sent[0][0] == BATCH_PATH and len(sent[0][1]) == 3
    alone = [ids[0] for path, ids in sent[1:] if path == INBOX_PATH]
    assert sorted(alone) == sorted(str(m.pk) for m in (first, second, other))
    assert alone.index(str(first.pk)) < alone.index(str(second.pk))
    assert set(OutboxMessage.objects.values_list("state", "attempts")) == {(DeliveryState.DELIVERED, 1)}


def _in_stream(sync: Synchronization, stream: str, sequence: int, *, due_in: float = 0) -> OutboxMessage:
    message = _outbox(sync, sequence)
    OutboxMessage.objects.filter(pk=message.pk).update(
        stream=stream, next_attempt_at=timezone.now() + timedelta(seconds=due_in))
    return OutboxMessage.objects.get(pk=message.pk)


@pytest.mark.django_db
def test_a_streams_backlog_goes_in_one_batch_in_order_with_its_later_messages_still_in_backoff() -> None:
    sync = synchronization()
    # #2 was answered 425 once (sent before #1 had arrived) and waits for its backoff; #1 and #3 are due.
    first, waiting, third = (_in_stream(sync, "issue:a/1", 1), _in_stream(sync, "issue:a/1", 2, due_in=60),
                             _in_stream(sync, "issue:a/1", 3))
    patch, sent = _partner()
    with patch:
        assert outbox_deliver(outbox_id=third.pk) == {}
    assert sent == [(BATCH_PATH, [str(first.pk), str(waiting.pk), str(third.pk)])]
    assert set(OutboxMessage.objects.values_list("state", flat=True)) == {DeliveryState.DELIVERED}


@pytest.mark.django_db
def test_a_stream_whose_first_message_waits_for_its_backoff_or_another_worker_is_left_alone() -> None:
    sync = synchronization()
    _in_stream(sync, "issue:a/1", 1, due_in=60)
    behind_it = _in_stream(sync, "issue:a/1", 2)
    held_head, behind_held = _in_stream(sync, "issue:a/2", 1), _in_stream(sync, "issue:a/2", 2)
    OutboxMessage.objects.filter(pk=held_head.pk).update(  # in another live worker's hands
        state=DeliveryState.DELIVERING, claim=uuid.uuid4(), claimed_until=timezone.now() + timedelta(seconds=60))
    other = _in_stream(sync, "issue:a/3", 1)
    patch, sent = _partner()
    with patch:
        outbox_deliver(outbox_id=behind_it.pk)
        outbox_deliver(outbox_id=behind_held.pk)
    # Sent alone, each would only be answered 425: they go with their stream's first message.
    assert sent == [(INBOX_PATH, [str(other.pk)])]
    assert {m.pk: (m.state, m.attempts) for m in OutboxMessage.objects.filter(pk__in=[behind_it.pk, behind_held.pk])
            } == {behind_it.pk: (DeliveryState.PENDING, 0), behind_held.pk: (DeliveryState.PENDING, 0)}


@pytest.mark.django_db(transaction=True)
def test_a_message_held_back_behind_its_streams_first_one_is_sent_by_the_worker_that_sent_that_one() -> None:
    sync = synchronization()
    head = _in_stream(sync, "issue:a/1", 1)
    later: list[OutboxMessage] = []
    patch, sent = _partner()

    def while_sending(method: str, address: str, path: str, *, body: bytes, headers: dict[str, str]) -> Any:
        if not later:
            # An edit commits meanwhile; its own doorbell finds the stream in this worker's hands.
            later.append(_in_stream(sync, "issue:a/1", 2))
            def doorbell() -> None:
                outbox_deliver(outbox_id=later[0].pk)
                connection.close()

            other = threading.Thread(target=doorbell)
            other.start()
            other.join(timeout=10)
        return send(method, address, path, body=body, headers=headers)

    with patch as send_mock:
        send = send_mock.side_effect
        send_mock.side_effect = while_sending
        assert outbox_deliver(outbox_id=head.pk) == {}
    assert [ids for _, ids in sent] == [[str(head.pk)], [str(later[0].pk)]]
    assert set(OutboxMessage.objects.values_list("state", "attempts")) == {(DeliveryState.DELIVERED, 1)}


@pytest.mark.django_db
@override_settings(DELIVERY_BATCH_SIZE=1)
def test_one_doorbell_sends_a_bounded_number_of_batches_then_rings_again_for_the_rest() -> None:
    from invitations.delivery import DRAIN_ROUNDS

    messages = [_outbox(synchronization()) for _ in range(DRAIN_ROUNDS + 2)]
    patch, sent = _partner()
    with patch:
        retries = outbox_deliver(outbox_id=messages[0].pk)
    assert len(sent) == DRAIN_ROUNDS
    left = set(OutboxMessage.objects.filter(state=DeliveryState.PENDING).values_list("pk", flat=True))
    assert len(left) == 2 and len(retries) == 1 and set(retries) <= left and list(retries.values()) == [0.0]


@pytest.mark.django_db(transaction=True)
def test_the_doorbells_of_messages_a_batch_already_delivered_end_without_a_query(
        django_assert_num_queries: Any) -> None:
    sync = synchronization()
    messages = [_outbox(sync, sequence=n) for n in range(1, 4)]
    patch, sent = _partner()
    with patch:
        outbox_deliver(outbox_id=messages[0].pk)
        assert len(sent) == 1 and set(OutboxMessage.objects.values_list("state", flat=True)) == {"delivered"}
        with django_assert_num_queries(0):
            assert outbox_deliver(outbox_id=messages[2].pk) == {}
        # A message this process did not deliver is looked up as before: nothing due, nothing sent.
        other = _outbox(synchronization())
        OutboxMessage.objects.filter(pk=other.pk).update(state=DeliveryState.DELIVERED)
        with django_assert_num_queries(1):
            assert outbox_deliver(outbox_id=other.pk) == {}
    assert len(sent) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("recipient", [BETA, None], ids=["rung as the partner's doorbell", "rung for the message"])
def test_a_lone_message_is_delivered_in_seven_statements(recipient: str | None) -> None:
    message = _outbox(synchronization())
    site_private_key()  # made once per site
    patch, sent = _partner()
    with patch, CaptureQueriesContext(connection) as queries:
        outbox_deliver(outbox_id=message.pk, recipient=recipient)
    statements = [q["sql"] for q in queries.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
    # The partner's due streams (rung for the message: with its partner read in the same query), their heads,
    # the lock (reading the rows whole), the claim, the site's key to sign with, (the send), the record; then
    # the next round's due streams: none.
    assert len(statements) <= 7, "\n".join(q[:100] for q in statements)
    assert len(sent) == 1
    message.refresh_from_db()
    assert (message.state, message.attempts, message.claim) == (DeliveryState.DELIVERED, 1, None)


def _history(sync: Synchronization, pending: int, delivered: int) -> None:
    """`pending` messages waiting for the partner, then `delivered` ones: a synchronization with a long history."""
    now = timezone.now()
    OutboxMessage.objects.bulk_create([OutboxMessage(
        id=uuid.uuid4(), synchronization_id=sync.pk, sequence=n, message_type="delete", recipient=BETA, body=b"{}",
        state=DeliveryState.DELIVERED if n > pending else DeliveryState.PENDING, next_attempt_at=now,
        give_up_at=now + timedelta(days=1), created_at=now) for n in range(1, pending + delivered + 1)],
        batch_size=1000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE invitations_outboxmessage")


def _generic_plan(sql: str, params: list[Any]) -> str:
    """The plan of `sql` as a prepared statement planned once for any values: what PostgreSQL uses for a
    statement run more than a few times on a connection, whatever the outbox's size then."""
    numbered = sql
    for n in range(1, len(params) + 1):
        numbered = numbered.replace("%s", f"${n}", 1)
    with connection.cursor() as cursor:
        types = ", ".join("integer" if isinstance(p, int) else "unknown" for p in params)  # the rest as used
        cursor.execute(f"PREPARE planned({types}) AS {numbered}")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        literals = (psycopg.sql.Literal(p if p is None or isinstance(p, int) else str(p)) for p in params)
        values = ", ".join(v.as_string(cursor.connection) for v in literals)  # EXECUTE takes no bound parameters
        cursor.execute(f"EXPLAIN EXECUTE planned({values})")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE planned")
    return plan


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans of prepared statements")
def test_the_delivery_state_reads_only_undelivered_messages_in_a_prepared_statements_generic_plan() -> None:
    sync = synchronization()
    _history(sync, pending=3, delivered=2997)
    # The statement as PostgreSQL receives it from the list and detail pages (its values bound as parameters).
    sql, params = selectors._deciding_messages([sync.pk]).query.sql_with_params()
    plan = _generic_plan(sql, list(params))
    assert "outbox_undelivered" in plan and "Seq Scan on invitations_outboxmessage" not in plan, plan
    assert synchronization_delivery(sync).state == "pending"


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans of prepared statements")
def test_a_claims_due_query_reads_the_due_index_in_a_prepared_statements_generic_plan() -> None:
    sync = synchronization()
    _history(sync, pending=100, delivered=5900)
    rung = OutboxMessage.objects.filter(state=DeliveryState.PENDING).order_by("-sequence").first()  # written last
    assert rung is not None
    # A doorbell's claim (rung for a message) and a sweep's (for the partner), as delivery sends them.
    sent: list[tuple[str, list[Any]]] = []

    def planned(template: str, *values: Any, **lists: int) -> list[Any]:
        sent.append(delivery._statement(template, *values, **lists)[1:])
        return []

    for outbox_id, recipient in ((rung.pk, None), (None, BETA)):
        with mock.patch.object(delivery, "_rows", planned):
            delivery._due(timezone.now(), outbox_id, recipient, 25)
        sql, params = sent.pop()
        plan = _generic_plan(sql, params)
        # Plain index scans only: a bitmap scan reads the entries of messages that have moved on again every
        # time until the table's vacuum, where an index scan marks them dead for the next one.
        assert "outbox_due" in plan and "Seq Scan" not in plan and "Bitmap Heap Scan" not in plan, plan
    due = delivery._due(timezone.now(), rung.pk, None, 25)
    assert due[0][0] == rung.pk and len({d[0] for d in due}) == len(due) == 25  # the rung one first, once
