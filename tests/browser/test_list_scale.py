"""The list stays fast at 10,000 rows: a page, of the list page or of the API, costs the same SQL queries
whatever the number of rows and the page size (PostgreSQL)."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from invitations.models import OutboxMessage
from jira.models import CustomField, IssueType, Project
from synchronizations.models import Role, Scope, Synchronization
from synchronizations.states import InvitationStatus

LIST = "/plugins/servlet/ac/issue-sync/synchronizations/"
API = "/api/synchronizations/"


def _rows(n: int) -> None:
    statuses = list(InvitationStatus.values)
    scopes = Scope.objects.bulk_create([Scope(mode=Scope.Mode.SHOW_ALL) for _ in range(n)])
    syncs = Synchronization.objects.bulk_create([
        Synchronization(id=uuid.uuid4(), name=f"Sync {i}", partner_address="https://beta.atlassian.net",
                        role=Role.INVITER, status=statuses[i % len(statuses)], scope=scope)
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
        r = admin.get(LIST + "?status=rejected", HTTP_X_LIVE_ROWS="1")  # the live-polling fragment
    assert b"<html" not in r.content and r.content.count(b"<tr data-sync") == 50


def _scopes_with_choices() -> None:
    """Scopes in every mode with projects and issue types chosen, so the API's scope column has work to do."""
    projects = [Project.objects.create(key=k, name=f"Project {k}") for k in ("ZED", "ALP", "MID")]
    types = [IssueType.objects.create(name=n, hierarchy_level=i % 2) for i, n in enumerate(("Task", "Bug", "Epic"))]
    CustomField.objects.create(name="Team", field_type=CustomField.FieldType.SELECT, options=["Red", "Blue"])
    modes = list(Scope.Mode.values)
    for i, scope in enumerate(Scope.objects.order_by("pk")[:30]):
        scope.mode = modes[i % len(modes)]
        scope.save()
        scope.projects.set(projects[: i % 3 + 1])
        scope.issue_types.set(types[i % 2:])


@pytest.mark.django_db
def test_an_api_page_costs_the_same_queries_whatever_its_size_and_the_rows(
        admin: Client, django_assert_num_queries: Any) -> None:
    _rows(60)
    _scopes_with_choices()
    with CaptureQueriesContext(connection) as few:
        r = admin.get(API + "?limit=2")
    assert r.status_code == 200 and len(r.json()["results"]) == 2
    _rows(10_000 - 60)
    for url, size in (("?limit=50", 50), ("?limit=50&offset=9000", 50), ("?limit=200", 200),
                      ("?limit=50&offset=800&status=rejected", 50)):
        with django_assert_num_queries(len(few.captured_queries)):
            r = admin.get(API + url)
        assert r.status_code == 200 and len(r.json()["results"]) == size, url


@pytest.mark.django_db
def test_each_api_row_says_what_the_synchronization_itself_says(admin: Client) -> None:
    """The list reads scopes and deliveries for the whole page at once; a row must not differ from
    the single synchronization's own read, whatever the scope mode or the delivery state."""
    _rows(250)  # the first 200 have a message waiting or failed
    _scopes_with_choices()
    failed = OutboxMessage.objects.filter(state="failed").first()
    assert failed is not None
    failed.last_error, failed.attempts = "HTTP 503", 4
    failed.save()
    # A pending message followed by a failed one: the row shows the failed one, as the synchronization does.
    pending = OutboxMessage.objects.filter(state="pending").first()
    assert pending is not None
    pending.pk, pending.sequence, pending.state, pending.last_error = uuid.uuid4(), 2, "failed", "HTTP 400"
    pending.save(force_insert=True)
    listed = admin.get(API + "?limit=250").json()["results"]
    assert {row["scope"]["mode"] for row in listed} == set(Scope.Mode.values)
    assert {row["delivery"]["state"] for row in listed} == {"delivered", "pending", "failed"}
    assert any(row["scope"]["projects"] and row["scope"]["issue_types"] for row in listed)
    for row in listed:
        assert row == admin.get(f"{API}{row['id']}/").json()


@pytest.mark.django_db
def test_the_delivery_column_says_what_waits_what_failed_and_what_arrived(admin: Client) -> None:
    _rows(3)  # messages: waiting, failed, waiting
    waiting, failed, arrived = OutboxMessage.objects.order_by("synchronization_id").all()
    waiting.state, waiting.attempts = "pending", 2
    failed.state, failed.last_error = "failed", "HTTP 503 from the partner"
    arrived.state = "delivered"
    for m in (waiting, failed, arrived):
        m.save()
    page = admin.get(LIST).content.decode()

    def row(m: OutboxMessage) -> str:
        start = page.index(f'<tr data-sync="{m.synchronization_id}">')
        return page[start:page.index("</tr>", start)]

    assert "Waiting for beta.atlassian.net: attempt 3, " in row(waiting) and "Retry" not in row(waiting)
    assert "Not delivered to beta.atlassian.net: HTTP 503 from the partner" in row(failed)
    assert "Retry sending" in row(failed)
    # Delivered says nothing: the column speaks only when a message is not delivered.
    assert 'class="delivery' not in row(arrived)


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
        status=InvitationStatus.DELETED, scope=Scope.objects.create(),
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


@pytest.mark.django_db
def test_the_delivery_column_reads_plainly_before_a_first_retry_and_without_an_error(admin: Client) -> None:
    _rows(2)
    first, unexplained = OutboxMessage.objects.order_by("synchronization_id").all()
    first.state, first.attempts = "pending", 0
    unexplained.state, unexplained.last_error = "failed", ""
    for m in (first, unexplained):
        m.save()
    page = admin.get(LIST).content.decode()
    assert ">Queued for beta.atlassian.net</span>" in page and "attempt" not in page
    assert ">Not delivered to beta.atlassian.net</span>" in page
    assert f"{LIST}{unexplained.synchronization_id}/retry/" in page


@pytest.mark.django_db
def test_it_answers_an_unchanged_list_with_a_304_and_a_changed_one_with_its_rows(admin: Client) -> None:
    _rows(3)
    first = admin.get(LIST, HTTP_X_LIVE_ROWS="1")
    etag = first["ETag"]
    assert first.status_code == 200 and b"<tr data-sync" in first.content and b"<html" not in first.content
    again = admin.get(LIST, HTTP_X_LIVE_ROWS="1", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    Synchronization.objects.filter(name="Sync 1").update(status=InvitationStatus.ACTIVE)
    changed = admin.get(LIST, HTTP_X_LIVE_ROWS="1", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


@pytest.mark.django_db
def test_it_searches_sorts_and_counts_without_a_500_on_odd_input(admin: Client) -> None:
    _rows(12)
    r = admin.get(LIST + "?q=Sync+1&sort=name")
    page = r.content.decode()
    assert r.status_code == 200 and page.count("<tr data-sync") == 3  # Sync 1, Sync 10, Sync 11
    assert page.index("Sync 10<") < page.index("Sync 11<")
    assert "All statuses (3)" in page
    for odd in ("?sort=drop+table", "?page=-4", "?status=nope&q=" + "x" * 500):
        assert admin.get(LIST + odd).status_code == 200
