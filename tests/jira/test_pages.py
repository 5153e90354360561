"""The Jira pages through Django's test client: what each page shows, what each form changes (through
the services) and what it refuses, and that the issue list costs the same queries at any size."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.test import Client

from jira import services
from jira.adf_html import adf_to_html
from jira.models import Changelog, Comment, Issue
from jira.panels import IssuePanel, issue_panel_register, issue_panel_unregister
from jira.signals import Origin
from tests.jira.conftest import Site

pytestmark = pytest.mark.django_db
CREATE = "/jira/issues/create/"


@pytest.fixture
def ready(site: Site) -> Site:
    services.priorities_ensure()
    return site


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _issue(site: Site, actor: User | None = None, **fields: Any) -> Issue:
    actor = actor or site.member
    return services.issue_create(actor=actor, origin=Origin.person(actor.pk), fields={
        "project": {"key": "ALPHA"}, "issuetype": {"name": "Bug"}, "summary": "Crash on save", **fields})


def _errors(html: str) -> dict[str, str]:
    """Each error shown next to a field, by the id of the field it describes."""
    return dict(re.findall(r'<div class="error" id="([\w-]+)-error"[^>]*>([^<]*)</div>', html))


def test_it_sends_anonymous_visitors_to_the_login_page(client: Client) -> None:
    for url in ("/jira/projects/", "/jira/issues/", CREATE, "/browse/ALPHA-1", "/browse/ALPHA-1/edit/"):
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/login/"), url


def test_it_creates_an_issue_with_every_field_from_the_form(ready: Site) -> None:
    member = _client(ready.member)
    r = member.post(CREATE, {
        "project": "ALPHA", "issuetype": str(ready.task.pk), "summary": "Export fails", "priority": "High",
        "description": "First line\r\nSecond line", "labels": "csv, export  urgent",
        "assignee": ready.other.jira_profile.account_id, "duedate": "2026-12-24",
        ready.severity.field_id: "Major", ready.points.field_id: "5", ready.customer.field_id: "ACME",
        ready.golive.field_id: "",
    })
    issue = Issue.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/browse/{issue.key}"
    assert (issue.key, issue.summary, issue.issue_type, issue.priority and issue.priority.name) == \
        ("ALPHA-1", "Export fails", ready.task, "High")
    assert (issue.description or {})["content"][1] == {"type": "paragraph",
                                               "content": [{"type": "text", "text": "Second line"}]}
    assert issue.labels == ["csv", "export", "urgent"] and issue.assignee == ready.other
    assert issue.reporter == ready.member and str(issue.due_date) == "2026-12-24"
    assert issue.custom_fields == {ready.severity.field_id: "Major", ready.points.field_id: 5.0,
                                   ready.customer.field_id: "ACME"}
    page = member.get(r["Location"]).content.decode()
    assert "ALPHA-1 has been created." in page and "Export fails" in page and "Grace Hopper" in page


def test_bad_input_shows_every_error_next_to_its_field_and_stores_nothing(ready: Site) -> None:
    member = _client(ready.member)
    r = member.post(CREATE, {
        "project": "NOPE", "issuetype": "", "summary": "x" * 50_000, "priority": "Urgent", "labels": "ok",
        "duedate": "24/12/2026", ready.severity.field_id: "Blocker", ready.points.field_id: "many",
    })
    assert r.status_code == 400
    errors = _errors(r.content.decode())
    assert set(errors) == {"project", "issuetype", "summary", "priority", "duedate", ready.severity.field_id,
                           ready.points.field_id}
    assert "valid project" in errors["project"] and "255 characters" in errors["summary"]
    assert "Blocker" in errors[ready.severity.field_id]
    assert Issue.objects.count() == 0 and Changelog.objects.count() == 0
    # What was typed stays in the form.
    assert 'value="ok"' in r.content.decode()


def test_it_edits_every_field_and_the_history_shows_each_change(ready: Site) -> None:
    issue = _issue(ready, description={"type": "doc", "version": 1, "content": [
        {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Steps"}]}]})
    member = _client(ready.member)
    form = member.get(f"/browse/{issue.key}/edit/").content.decode()
    assert 'value="Crash on save"' in form
    r = member.post(f"/browse/{issue.key}/edit/", {
        "version": str(issue.version), "issuetype": str(ready.bug.pk), "summary": "Crash on save as PDF",
        "description": "Steps", "priority": "Low", "labels": "pdf", "assignee": "", "duedate": "",
        ready.severity.field_id: "Critical"})
    assert r.status_code == 302
    issue.refresh_from_db()
    assert issue.summary == "Crash on save as PDF" and issue.priority and issue.priority.name == "Low"
    assert (issue.description or {})["content"][0]["type"] == "heading"  # the unchanged text kept its document
    page = member.get(f"/browse/{issue.key}").content.decode()
    history = page[page.index('id="history"'):]
    for text in ("Summary", "Crash on save as PDF", "Priority", "Medium", "Low", "Labels", "pdf", "Severity",
                 "Critical"):
        assert text in history, text
    # An edit made on a stale version is refused and changes nothing.
    r = member.post(f"/browse/{issue.key}/edit/", {"version": "1", "summary": "Stale", "issuetype": str(ready.bug.pk),
                                                  "priority": "Low"})
    assert r.status_code == 409 and "changed by someone else" in r.content.decode()
    issue.refresh_from_db()
    assert issue.summary == "Crash on save as PDF"


def test_it_edits_the_summary_in_place_and_refuses_an_empty_one(ready: Site) -> None:
    issue = _issue(ready)
    member = _client(ready.member)
    r = member.post(f"/browse/{issue.key}/summary/", {"summary": "Crash on save (Windows)",
                                                      "version": str(issue.version)})
    assert r.status_code == 302
    r = member.post(f"/browse/{issue.key}/summary/", {"summary": "  "})
    assert r.status_code == 400 and "You must specify a summary" in r.content.decode()
    issue.refresh_from_db()
    assert issue.summary == "Crash on save (Windows)" and issue.version == 2


def test_it_offers_only_the_transitions_the_workflow_allows_and_refuses_others(ready: Site) -> None:
    issue = _issue(ready)
    member = _client(ready.member)
    page = member.get(f"/browse/{issue.key}").content.decode()
    offered = re.findall(r'title="Move to [^"]+">([^<]+)</button>', page)
    assert offered == ["Start progress"]
    done = next(t for t in services.transitions_available(issue) if t.name == "Start progress")
    member.post(f"/browse/{issue.key}/transition/", {"transition": str(done.pk)})
    issue.refresh_from_db()
    assert issue.status.name == "In Progress"
    r = member.post(f"/browse/{issue.key}/transition/", {"transition": str(done.pk)}, follow=True)
    assert "is not valid for this issue" in r.content.decode()
    issue.refresh_from_db()
    assert issue.status.name == "In Progress"


def test_only_the_author_or_an_admin_edits_or_deletes_a_comment(ready: Site) -> None:
    issue = _issue(ready)
    member, other, admin = _client(ready.member), _client(ready.other), _client(ready.admin)
    assert member.post(f"/browse/{issue.key}/comments/", {"body": "Seen on 1.2"}).status_code == 302
    comment = Comment.objects.get()
    base = f"/browse/{issue.key}/comments/{comment.pk}"
    edit, delete = f"{base}/edit/", f"{base}/delete/"
    assert f'action="{edit}"' not in other.get(f"/browse/{issue.key}").content.decode()
    r = other.post(edit, {"body": "Hijacked"}, follow=True)
    assert "do not have permission" in r.content.decode()
    other.post(delete)
    comment.refresh_from_db()
    assert comment.body["content"][0]["content"][0]["text"] == "Seen on 1.2"
    assert member.post(f"/browse/{issue.key}/comments/", {"body": " "}).status_code == 400
    assert member.post(edit, {"body": "Seen on 1.2 and 1.3"}).status_code == 302
    comment.refresh_from_db()
    assert comment.body["content"][0]["content"][0]["text"] == "Seen on 1.2 and 1.3"
    assert admin.post(delete).status_code == 302
    assert not Comment.objects.exists()


def test_descriptions_and_comments_are_rendered_without_running_what_they_hold(ready: Site) -> None:
    html = adf_to_html({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [
            {"type": "text", "text": "<script>alert(1)</script>", "marks": [{"type": "strong"}]},
            {"type": "text", "text": "bad", "marks": [{"type": "link", "attrs": {"href": "javascript:alert(1)"}}]},
            {"type": "text", "text": "good", "marks": [{"type": "link", "attrs": {"href": "https://example.com/a?b=1&c"}}]},
        ]},
        {"type": "bulletList", "content": [{"type": "listItem", "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "one"}]}]}]},
        {"type": "heading", "attrs": {"level": "1\"><script>"}, "content": [{"type": "text", "text": "H"}]},
    ]})
    assert "<script>" not in html and "&lt;script&gt;" in html and "javascript:" not in html
    assert '<a href="https://example.com/a?b=1&amp;c" rel="noopener noreferrer">good</a>' in html
    assert "<ul><li><p>one</p></li></ul>" in html and "<h3>H</h3>" in html
    issue = _issue(ready, description="<img src=x onerror=alert(1)>")
    page = _client(ready.member).get(f"/browse/{issue.key}").content.decode()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_apps_show_their_panels_in_the_side_slot_and_a_failing_one_is_skipped(ready: Site) -> None:
    issue = _issue(ready)

    def sync_panel(request: HttpRequest, shown: Issue) -> IssuePanel | None:
        return IssuePanel(title="Issue Sync", template="jira/tests/panel.html", context={"partner": "BETA-7"})

    def broken(request: HttpRequest, shown: Issue) -> IssuePanel | None:
        raise RuntimeError("app fault")

    def silent(request: HttpRequest, shown: Issue) -> IssuePanel | None:
        return None

    installed = _client(ready.member).get(f"/browse/{issue.key}").content.decode().count('class="panel app-panel"')
    for provider in (broken, sync_panel, silent):
        issue_panel_register(provider)
    try:
        r = _client(ready.member).get(f"/browse/{issue.key}")
    finally:
        for provider in (broken, sync_panel, silent):
            issue_panel_unregister(provider)
    page = r.content.decode()
    assert r.status_code == 200
    assert page.count('class="panel app-panel"') == installed + 1  # the site's own apps' panels, and this one
    assert ">Issue Sync</h2>" in page and f"Linked to BETA-7 from {issue.key}" in page


def test_the_issue_list_filters_and_costs_the_same_queries_at_any_size(
        ready: Site, django_assert_max_num_queries: Any) -> None:
    member = _client(ready.member)
    rows = [{"fields": {"project": {"key": "ALPHA"}, "issuetype": {"name": "Bug" if i % 2 else "Task"},
                        "summary": f"Issue {i}", **({"assignee": {"accountId": ready.other.jira_profile.account_id}}
                                                    if i % 3 == 0 else {})}} for i in range(60)]
    services.issues_create_bulk(actor=ready.member, origin=Origin.person(ready.member.pk), updates=rows)
    url = "/jira/projects/ALPHA/issues/"
    queries = ("", "?page=2", f"?type={ready.bug.pk}&assignee={ready.other.jira_profile.account_id}&q=Issue")
    few: dict[str, int] = {}
    for query in queries:
        with django_assert_max_num_queries(20) as captured:
            assert member.get(url + query).status_code == 200
        few[query] = len(captured.captured_queries)
    services.issues_create_bulk(actor=ready.member, origin=Origin.person(ready.member.pk), updates=rows * 20)
    for query in queries:
        with django_assert_max_num_queries(few[query]):
            assert member.get(url + query).status_code == 200
    page = member.get(url).content.decode()
    assert page.count("<tr data-issue=") == 50 and "1–50 of 1260" in page
    filtered = member.get(url + f"?type={ready.bug.pk}&assignee={ready.other.jira_profile.account_id}").content.decode()
    # Bug (odd) and assigned (multiple of 3): 10 of each 60, twenty-one times.
    assert "of 210" in filtered
    assert member.get(url + "?q=Issue 7").content.decode().count("<tr data-issue=") == 21 * 1  # "Issue 7" only
    assert member.get(url + "?status=abc&type=x&assignee=nobody&page=999").status_code == 200
    assert member.get("/jira/projects/NOPE/issues/").status_code == 404


@pytest.fixture(autouse=True)
def _panel_template(tmp_path: Any, settings: Any) -> Iterator[None]:
    """A panel template that exists only for these tests."""
    folder = tmp_path / "jira" / "tests"
    folder.mkdir(parents=True)
    (folder / "panel.html").write_text("<p>Linked to {{ partner }} from {{ issue.key }}</p>")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], str(tmp_path)]}]
    yield


def test_the_issue_page_costs_the_same_queries_however_long_its_history(
        ready: Site, django_assert_max_num_queries: Any) -> None:
    issue = _issue(ready, None, **{ready.severity.field_id: "Major"})
    member = _client(ready.member)
    origin = Origin.person(ready.member.pk)
    services.comment_add(actor=ready.member, origin=origin, issue=issue, body="First", plain_text=True)
    with django_assert_max_num_queries(30) as few:
        assert member.get(f"/browse/{issue.key}").status_code == 200
    for n in range(15):
        services.comment_add(actor=ready.other if n % 2 else ready.admin, origin=origin, issue=issue,
                             body=f"Comment {n}", plain_text=True)
        services.issue_update(actor=ready.member, origin=origin, issue=issue, fields={"summary": f"Crash {n}"})
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = member.get(f"/browse/{issue.key}").content.decode()
    assert page.count('class="comment"') == 16 and "Crash 14" in page
