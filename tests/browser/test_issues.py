"""The Jira pages clicked in a real browser against a live site, as a member (not an administrator):
open a project, create an issue (bad input first), edit it in place and in full, transition it,
comment, edit and delete the comment, read the history, and make and revoke an API token."""
from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.session import shot
from tests.browser.session import signed_in as _page
from tests.live import LiveSites

pytestmark = pytest.mark.live


def _section(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.get_by_role("region", name=name)


def test_a_member_creates_edits_transitions_and_comments_an_issue(browser: Browser, sites: LiveSites) -> None:
    alpha = sites["alpha"]
    summary = f"Export to CSV drops accents {uuid.uuid4().hex[:6]}"
    p = _page(browser, alpha, user="member")

    # The top bar leads every signed-in person to the projects, not only administrators.
    p.get_by_role("navigation", name="Jira").get_by_role("link", name="Projects").click()
    expect(p.get_by_role("heading", name="Projects")).to_be_visible()
    p.get_by_role("link", name="Alpha Platform").click()
    expect(p.get_by_role("heading", name="Alpha Platform issues")).to_be_visible()
    shot(p, "30-project-issues")

    p.get_by_role("link", name="Create issue").click()
    expect(p.get_by_role("heading", name="Create issue")).to_be_visible()
    expect(p.get_by_label("Project")).to_have_value("ALPHA")
    # Bad input: every problem shows next to its field at once, what was typed stays, nothing is stored.
    p.get_by_label("Summary").fill("")
    p.get_by_label("Story points").fill("many")
    p.get_by_label("Due date").fill("2026-12-24")
    p.get_by_label("Labels").fill("csv export")
    p.get_by_role("button", name="Create", exact=True).click()
    expect(p.get_by_label("Summary")).to_have_attribute("aria-invalid", "true")
    expect(p.locator("#summary-error")).to_contain_text("You must specify a summary")
    expect(p.get_by_label("Story points")).to_have_attribute("aria-invalid", "true")
    expect(p.get_by_text("Operation value must be a number")).to_be_visible()
    expect(p.get_by_label("Labels")).to_have_value("csv export")
    shot(p, "31-create-errors")
    p.get_by_label("Summary").fill(summary)
    p.get_by_label("Story points").fill("x")
    p.get_by_role("button", name="Create", exact=True).click()
    expect(p.get_by_text("Operation value must be a number")).to_be_visible()
    p.goto(alpha.url + "/jira/projects/ALPHA/issues/?q=" + summary.split()[-1])
    expect(p.get_by_text("No issues match these filters")).to_be_visible()

    p.get_by_role("link", name="Create issue").click()
    p.get_by_label("Issue type").select_option("Bug")
    p.get_by_label("Summary").fill(summary)
    p.get_by_label("Description").fill("Steps:\nExport a customer named Zoë")
    p.get_by_label("Priority").select_option("High")
    p.get_by_label("Labels").fill("csv, export")
    p.get_by_label("Assignee").select_option(label="Team Member")
    p.get_by_label("Story points").fill("3")
    p.get_by_label("Severity").select_option("Major")
    p.get_by_role("button", name="Create", exact=True).click()
    expect(p.get_by_role("heading", level=1)).to_have_text(summary)
    expect(p.get_by_role("status")).to_contain_text("has been created")
    key = p.url.rsplit("/", 1)[-1]
    assert re.fullmatch(r"ALPHA-\d+", key), key
    details = _section(p, "Details")
    for text in ("Bug", "Team Member", "High", "csv, export", "3", "Major"):
        expect(details).to_contain_text(text)
    expect(_section(p, "Description")).to_contain_text("Export a customer named Zoë")
    shot(p, "32-issue-view")

    # The summary is edited in place; Escape gives up and returns the focus to Edit summary.
    p.get_by_role("button", name="Edit summary").click()
    expect(p.get_by_label("Summary")).to_be_focused()
    p.keyboard.press("Escape")
    expect(p.get_by_role("button", name="Edit summary")).to_be_focused()
    p.get_by_role("button", name="Edit summary").click()
    p.get_by_label("Summary").fill(summary + " and umlauts")
    p.keyboard.press("Enter")
    expect(p.get_by_role("heading", level=1)).to_have_text(summary + " and umlauts")

    # The full edit form.
    p.get_by_role("link", name="Edit", exact=True).click()
    expect(p.get_by_role("heading", name=f"Edit {key}")).to_be_visible()
    expect(p.get_by_label("Story points")).to_have_value("3")
    p.get_by_label("Priority").select_option("Low")
    p.get_by_role("button", name="Save").click()
    expect(p.get_by_role("status")).to_contain_text(f"{key} has been updated")
    expect(_section(p, "Details")).to_contain_text("Low")

    # Only the transitions the workflow allows from the current status are offered.
    transitions = p.get_by_role("group", name="Transitions")
    expect(transitions.get_by_role("button")).to_have_text(["Start progress"])
    transitions.get_by_role("button", name="Start progress").click()
    expect(p.locator("#current-status")).to_have_text("In Progress")
    expect(p.get_by_role("group", name="Transitions").get_by_role("button")).to_have_text(
        ["Stop progress", "Request review", "Resolve"])

    # Comments: add, edit, delete (after a confirmation).
    p.get_by_label("Add a comment").fill("Seen with 1.2")
    p.get_by_role("button", name="Save comment").click()
    comment = p.get_by_role("listitem", name="Comment by Team Member")
    expect(comment).to_contain_text("Seen with 1.2")
    comment.get_by_role("button", name="Edit").click()
    comment.get_by_label("Edit comment").fill("Seen with 1.2 and 1.3")
    comment.get_by_role("button", name="Save").click()
    expect(comment).to_contain_text("Seen with 1.2 and 1.3")
    expect(comment).to_contain_text("(edited)")
    shot(p, "33-issue-comment")
    comment.get_by_role("button", name="Delete").click()
    dialog = p.get_by_role("dialog", name="Delete this comment?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # destructive dialogs open on Cancel
    dialog.get_by_role("button", name="Delete").click()
    expect(p.get_by_text("No comments yet.")).to_be_visible()

    # The history tells who changed what, from what to what.
    history = _section(p, "History")
    expect(history).to_contain_text("Team Member created the issue")
    for text in ("Summary", summary + " and umlauts", "Priority", "High", "Low", "Status", "To Do",
                 "In Progress"):
        expect(history).to_contain_text(text)
    shot(p, "34-issue-history")

    # The issue is in its project's list, found by its key.
    p.get_by_role("navigation", name="Breadcrumbs").get_by_role("link", name="Alpha Platform").click()
    p.get_by_label("Search").fill(key)
    p.get_by_role("button", name="Filter").click()
    expect(p.get_by_role("row").filter(has_text=key)).to_contain_text("In Progress")


def test_a_member_makes_an_api_token_sees_it_once_and_revokes_it(browser: Browser, sites: LiveSites) -> None:
    alpha = sites["alpha"]
    p = _page(browser, alpha, user="member")
    p.get_by_role("button", name=re.compile("Your profile")).click()
    p.get_by_role("link", name="API tokens").click()
    expect(p.get_by_role("heading", name="API tokens")).to_be_visible()
    p.get_by_role("button", name="Create API token").click()
    expect(p.locator("#label-error")).to_contain_text("Give the token a label")
    label = f"release script {uuid.uuid4().hex[:4]}"
    p.get_by_label("Label").fill(label)
    p.get_by_role("button", name="Create API token").click()
    token = p.get_by_label("API token", exact=True).input_value()
    assert token.startswith("ISP") and len(token) > 30
    expect(p.get_by_role("row").filter(has_text=label)).to_contain_text(token[:7])
    shot(p, "35-api-token")
    p.goto(p.url)
    expect(p.get_by_role("row").filter(has_text=label)).to_be_visible()
    expect(p.get_by_label("API token", exact=True)).to_have_count(0)
    p.get_by_role("button", name=f"Revoke {label}").click()
    expect(p.get_by_role("status")).to_contain_text("revoked")
    expect(p.get_by_role("row").filter(has_text=label)).to_have_count(0)
