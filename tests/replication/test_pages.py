"""The Errors view, the list's count, the API and the issue's Issue Sync panel, on one site."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from jira.models import Issue
from replication import services
from replication.merge import clock_at
from replication.models import IssueLink, LinkState
from synchronizations.models import Synchronization
from tests.replication.test_services import BETA, _create, _from_beta, _state, admin, sync  # noqa: F401

pytestmark = pytest.mark.django_db
LIST = "/plugins/servlet/ac/issue-sync/synchronizations/"


@pytest.fixture
def failing(sync: Synchronization, admin: User) -> IssueLink:  # noqa: F811
    issue = _create(admin)
    services.issue_push(issue=issue.pk, synchronization=sync)
    services.issue_state_apply(sync=sync, sender=BETA, payload=_from_beta(
        sync, "https://alpha.atlassian.net", str(issue.pk), {"priority": _state("Trivial", timezone.now())}))
    link = IssueLink.objects.get()
    assert link.state == LinkState.ERROR
    return link


def test_the_list_counts_issues_in_error_and_the_errors_view_offers_retry_and_skip(
    client: Client, admin: User, failing: IssueLink  # noqa: F811
) -> None:
    client.force_login(admin)
    sync_id = failing.synchronization_id
    page = client.get(LIST).content.decode()
    assert "1 issue in error" in page and f"{LIST}{sync_id}/issue-errors/" in page
    assert "Errors (1)" in client.get(f"{LIST}{sync_id}/").content.decode()
    page = client.get(f"/plugins/servlet/ac/issue-sync/synchronizations/{sync_id}/issue-errors/").content.decode()
    assert failing.local_key in page and "Trivial" in page and "Retry" in page and "Skip" in page
    r = client.post(f"/plugins/servlet/ac/issue-sync/synchronizations/{sync_id}/issue-errors/{failing.pk}/skip/")
    assert r.status_code == 302
    assert IssueLink.objects.get().state == LinkState.IN_SYNC
    assert "issue in error" not in client.get(LIST).content.decode()


def test_the_api_lists_errors_and_retries_them_for_admins_only(
    client: Client, admin: User, failing: IssueLink  # noqa: F811
) -> None:
    base = f"/api/synchronizations/{failing.synchronization_id}"
    User.objects.create_user("member", "member@example.com", "pw")
    client.login(username="member", password="pw")
    assert client.get(f"{base}/issue-errors/").status_code == 403
    client.force_login(admin)
    (row,) = client.get(f"{base}/issue-errors/").json()
    assert row["issue_key"] == failing.local_key and row["attempts"] == 1 and "Trivial" in row["error"]
    assert row["where"] == "https://alpha.atlassian.net" and row["waiting_fields"] == ["priority"]
    assert client.get(f"{base}/issue-sync/").json()["issues_in_error"] == 1
    r = client.post(f"{base}/issue-errors/{row['id']}/retry/")
    assert r.status_code == 200 and r.json()["state"] == "error" and r.json()["attempts"] == 2  # still no value
    assert client.post(f"{base}/issue-sync/pause/").json()["paused"] is True
    assert client.post(f"{base}/issue-sync/resume/").json()["paused"] is False
    assert client.get(f"{base}/issue-errors/999999/retry/").status_code == 405
    assert client.post(f"{base}/issue-errors/999999/retry/").status_code == 404


def test_a_member_sees_the_issue_sync_panel_but_not_the_errors_view(
    client: Client, failing: IssueLink  # noqa: F811
) -> None:
    User.objects.create_user("member", "member@example.com", "pw")
    client.login(username="member", password="pw")
    issue = Issue.objects.get(pk=failing.local_issue_id)
    page = client.get(f"/plugins/servlet/ac/issue-sync/issue/{issue.key}/panel/").content.decode()
    assert "Issue Sync" in page and "Error" in page and "Sync now" in page and "BETA-9" in page
    assert f'href="{BETA}/browse/BETA-9"' in page
    # "Last synchronized" reads as a date, with the exact moment for machines, not a raw ISO string.
    failing.refresh_from_db()
    assert failing.last_synced_at is not None
    shown = timezone.localtime(failing.last_synced_at)
    assert f'<time datetime="{shown.isoformat()}">{shown:%b} {shown.day}, {shown:%Y %H:%M:%S}</time>' in page
    assert failing.last_synced_at.isoformat() not in page.replace(shown.isoformat(), "")
    r = client.get(f"/plugins/servlet/ac/issue-sync/synchronizations/{failing.synchronization_id}/issue-errors/")
    assert r.status_code == 403
    r = client.post(f"/plugins/servlet/ac/issue-sync/issue/{issue.key}/sync-now/")
    assert r.status_code == 200 and "Sent again" in r.content.decode()
    assert clock_at(timezone.now(), BETA)  # the panel's Sync now sent everything again (checked in services)


def test_the_issue_view_shows_the_issue_sync_panel_in_its_app_slot(
    client: Client, failing: IssueLink  # noqa: F811
) -> None:
    User.objects.create_user("member", "member@example.com", "pw")
    client.login(username="member", password="pw")
    issue = Issue.objects.get(pk=failing.local_issue_id)
    page = client.get(f"/browse/{issue.key}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Issue Sync" in html and "Sync now" in html and f'href="{BETA}/browse/BETA-9"' in html
