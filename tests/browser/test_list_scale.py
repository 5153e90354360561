"""The list stays fast at 10,000 rows: one page of 50 with a constant number of SQL queries (PostgreSQL)."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from invitations.models import OutboxMessage
from synchronizations.models import Role, Scope, Synchronization
from synchronizations.states import InvitationStatus

LIST = "/plugins/servlet/ac/issue-sync/synchronizations/"


def _rows(n: int) -> None:
    statuses = list(InvitationStatus.values)
    scopes = Scope.objects.bulk_create([Scope(mode=Scope.Mode.SHOW_ALL) for _ in range(n)])
    syncs = Synchronization.objects.bulk_create([
        Synchronization(id=uuid.uuid4(), name=f"Sync {i}", partner_address="https://beta.atlassian.net",
                        role=Role.INVITER, status=statuses[i % len(statuses)], scope=scope,
                        partner_key_id="k", partner_public_key_pem="p")
        for i, scope in enumerate(scopes)
    ])
    now = timezone.now()
    # Some rows wait for delivery and some failed: the delivery column must not cost a query per row.
    OutboxMessage.objects.bulk_create([
        OutboxMessage(synchronization_id=s.id, recipient=s.partner_address, sequence=1, message_type="invitation",
                      body=b"{}", state="failed" if i % 2 else "pending", next_attempt_at=now,
                      give_up_at=now, created_at=now)
        for i, s in enumerate(syncs[:200])
    ])


@pytest.fixture
def admin(client: Client) -> Client:
    client.force_login(User.objects.create_user("root", is_staff=True, is_superuser=True))
    return client


@pytest.mark.django_db
def test_ten_thousand_rows_cost_the_same_queries_as_a_few(admin: Client, django_assert_max_num_queries: Any) -> None:
    _rows(60)
    with django_assert_max_num_queries(8) as few:
        assert admin.get(LIST).status_code == 200
    _rows(10_000 - 60)
    with django_assert_max_num_queries(len(few.captured_queries)):
        r = admin.get(LIST + "?page=3")
    assert r.status_code == 200
    assert r.content.count(b"<tr data-sync") == 50
    assert b"Page 3 of 200" in r.content
    with django_assert_max_num_queries(len(few.captured_queries)):
        r = admin.get(LIST + "?status=rejected", HTTP_HX_REQUEST="true")  # the live-polling fragment
    assert b"<html" not in r.content and r.content.count(b"<tr data-sync") == 50


@pytest.mark.django_db
def test_member_gets_a_403_page_and_anonymous_the_login_page(client: Client) -> None:
    r = client.get(LIST)
    assert r.status_code == 302 and r["Location"].startswith("/login/")
    client.force_login(User.objects.create_user("member"))
    r = client.get(LIST + "new/")
    assert r.status_code == 403
    assert b"You need to be a Jira administrator" in r.content


@pytest.mark.django_db
def test_actions_that_do_not_apply_are_refused_with_a_message_not_a_500(admin: Client) -> None:
    sync = Synchronization.objects.create(
        name="Done", partner_address="https://beta.atlassian.net", role=Role.INVITER,
        status=InvitationStatus.DELETED, scope=Scope.objects.create(), partner_key_id="k",
        partner_public_key_pem="p",
    )
    r = admin.post(f"{LIST}{sync.pk}/reject/", follow=True)
    assert r.status_code == 200
    assert b"is not possible for a synchronization that is Deleted" in r.content
    assert Synchronization.objects.get(pk=sync.pk).status == InvitationStatus.DELETED
    assert admin.get(f"{LIST}{sync.pk}/reject/").status_code == 405
    assert admin.get(f"{LIST}{uuid.uuid4()}/").status_code == 404


@pytest.mark.django_db
def test_retry_puts_a_failed_message_back_in_the_queue(admin: Client) -> None:
    _rows(1)
    message = OutboxMessage.objects.get()
    message.state = "failed"
    message.save()
    r = admin.post(f"{LIST}{message.synchronization_id}/retry/", {"next": LIST}, follow=True)
    assert r.status_code == 200 and b"again" in r.content
    message.refresh_from_db()
    assert message.state == "pending"
