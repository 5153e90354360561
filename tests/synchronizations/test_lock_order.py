"""An admin's action and the inbox lock a synchronization's rows in one order: its link, then the synchronization.

The inbox locks the links a request names and then, in a kind's handler, the synchronization; an
action that locked the synchronization first and its link when writing to the outbox would wait for
the inbox while the inbox waits for it (PostgreSQL then aborts one of them: a 500 for the admin).
"""
from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction

from invitations.models import Link
from synchronizations.models import Synchronization
from synchronizations.services import synchronization_delete
from synchronizations.states import InvitationStatus
from tests.factories import synchronization

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting_on_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def test_an_action_waits_for_the_inbox_on_the_link_not_crosswise() -> None:
    sync = synchronization(status=InvitationStatus.ACTIVE)
    errors: list[BaseException] = []
    action_pid: list[int] = []
    inbox_has_link = threading.Event()

    def inbox() -> None:  # what inbox_apply_many and a kind's handler do
        try:
            with transaction.atomic():
                Link.objects.select_for_update().filter(pk=sync.pk).first()
                inbox_has_link.set()
                deadline = time.monotonic() + 10
                while not action_pid and time.monotonic() < deadline:
                    time.sleep(0.01)
                while action_pid and not _waiting_on_a_lock(action_pid[0]) and time.monotonic() < deadline:
                    time.sleep(0.01)
                Synchronization.objects.select_for_update().get(pk=sync.pk)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            connection.close()

    def action() -> None:
        try:
            inbox_has_link.wait(10)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                action_pid.append(cursor.fetchone()[0])
            synchronization_delete(synchronization=sync)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            connection.close()

    threads: list[Any] = [threading.Thread(target=inbox), threading.Thread(target=action)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert Synchronization.objects.get(pk=sync.pk).status == InvitationStatus.DELETED
