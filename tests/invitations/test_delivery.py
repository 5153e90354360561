"""Delivering outbox messages: one send per claim under concurrency, the delivery state, an admin's retry.

The partner cannot run in-process, so only the transport seam is patched.
"""
from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from invitations import transport
from invitations.delivery import outbox_deliver
from invitations.messages import envelope_encode
from invitations.models import DeliveryState, OutboxMessage
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

    # Not due yet: a second doorbell does not send early.
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
