"""Issue sync clicked in a real browser between two live sites: an issue created on alpha is opened on
beta from its Issue Sync panel; its summary edited on beta, a comment on each side and a transition on
alpha show on the other site; a member of beta sees the copy but cannot administer the synchronization."""
from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from tests.browser.session import assert_accessible, shot
from tests.browser.session import signed_in as _page
from tests.live import Api, LiveSites, live_sites, synchronization_accepted

pytestmark = pytest.mark.live
SYNCED = 30.0  # seconds: a change made on one site shows on the other well within this, even on a loaded machine
DETAIL = "/plugins/servlet/ac/issue-sync/synchronizations/{}/"
ERRORS = "/plugins/servlet/ac/issue-sync/synchronizations/{}/issue-errors/"
LIST = "/plugins/servlet/ac/issue-sync/synchronizations/"


@pytest.fixture(scope="module")
def pair(pg_template: str) -> Iterator[LiveSites]:
    """Two sites of this module's own: no other module's synchronization copies its issues too."""
    with live_sites(pg_template) as sites:
        yield sites


@pytest.fixture(scope="module")
def active(pair: LiveSites) -> str:
    """An Active synchronization whose enabled mapping pairs ALPHA and BETA bugs: summary, status and
    comments both ways (set up through the admin API, as an administrator of each site would)."""
    alpha, beta = Api(pair["alpha"]), Api(pair["beta"])
    sync_id = synchronization_accepted(alpha, beta, "Support escalations")
    r = alpha.post(f"/synchronizations/{sync_id}/mappings/", {
        "name": "Bugs", "local_project": "ALPHA", "partner_project": "BETA",
        "issue_types": [{"local": "Bug", "partner": "Bug"}],
        "field_pairs": [{"local": f, "partner": f, "direction": "both"} for f in ("summary", "status")],
        "value_maps": {}, "comments": "both", "filter": "", "enabled": True})
    assert r.status_code == 201, r.text
    beta.wait_status(sync_id, "active")
    return sync_id


def _eventually(page: Page, check: Callable[[], None], *, timeout: float = SYNCED) -> None:
    """Reload the page until `check` (Playwright expectations) holds, or fail at the deadline.

    The issue view does not poll: what the partner changed shows on the next load.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        page.reload()


def _through_directory(context: BrowserContext, sites: LiveSites) -> None:
    """The browser reaches a site's public address (https://beta.atlassian.net/...) where the site
    directory says that site runs, as a name server would send it there: a redirect, nothing rewritten."""
    def to(url: str) -> Callable[[Route], None]:
        def redirect(route: Route) -> None:
            parts = urlsplit(route.request.url)
            route.fulfill(status=302, headers={"Location": url + parts.path + (f"?{parts.query}" if parts.query
                                                                                 else "")})
        return redirect

    for site in sites.sites.values():
        context.route(site.address + "/**", to(site.url))


def _sign_in(page: Page, url: str, user: str) -> None:
    page.goto(url + "/login/")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(user)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/(synchronizations/|$)"))


def test_an_issue_flows_both_ways_in_the_browser_and_a_member_cannot_administer_it(
    browser: Browser, pair: LiveSites, active: str
) -> None:
    alpha, beta = pair["alpha"], pair["beta"]
    summary = f"Checkout button hidden on small screens {uuid.uuid4().hex[:6]}"

    # alpha's administrator creates a bug in the mapped project.
    a = _page(browser, alpha)
    a.goto(alpha.url + "/jira/projects/ALPHA/issues/")
    a.get_by_role("link", name="Create issue").click()
    a.get_by_label("Issue type").select_option("Bug")
    a.get_by_label("Summary").fill(summary)
    a.get_by_role("button", name="Create", exact=True).click()
    expect(a.get_by_role("heading", level=1)).to_have_text(summary)
    key = a.url.rsplit("/", 1)[-1]
    assert re.fullmatch(r"ALPHA-\d+", key), key

    # The Issue Sync panel links the copy beta made, once beta has answered.
    panel = a.get_by_role("region", name="Issue Sync")
    partner = panel.get_by_role("link", name=re.compile(r"^BETA-\d+$"))
    _eventually(a, lambda: expect(partner).to_be_visible(timeout=1_000))
    expect(panel.get_by_test_id("sync-state")).to_have_text("In sync")
    expect(panel).to_contain_text(f"on {beta.address}")
    copy = partner.inner_text()
    expect(partner).to_have_attribute("href", f"{beta.address}/browse/{copy}")
    shot(a, "60-issue-sync-panel")

    # Opened from the panel's link, on beta (beta's administrator signed in, in the same browser).
    _through_directory(a.context, pair)
    _sign_in(a.context.new_page(), beta.url, "admin")
    partner.click()
    a.wait_for_url(f"{beta.url}/browse/{copy}")
    b = a
    expect(b.get_by_role("heading", level=1)).to_have_text(summary)
    b_panel = b.get_by_role("region", name="Issue Sync")
    expect(b_panel.get_by_role("link", name=key)).to_have_attribute("href", f"{alpha.address}/browse/{key}")
    expect(b.locator("#current-status")).to_have_text("To Do")
    a = _page(browser, alpha)
    a.goto(f"{alpha.url}/browse/{key}")

    # beta edits the summary in place: alpha shows it.
    edited = summary.replace("hidden", "cut off")
    b.get_by_role("button", name="Edit summary").click()
    b.get_by_label("Summary").fill(edited)
    b.keyboard.press("Enter")
    expect(b.get_by_role("heading", level=1)).to_have_text(edited)
    _eventually(a, lambda: expect(a.get_by_role("heading", level=1)).to_have_text(edited, timeout=1_000))

    # A comment on each side shows on the other, written by Issue Sync and naming its author and site.
    a.get_by_label("Add a comment").fill("Reproduced on an iPhone SE")
    a.get_by_role("button", name="Save comment").click()
    expect(a.get_by_role("listitem", name="Comment by Site Admin")).to_contain_text("Reproduced on an iPhone SE")
    b.get_by_label("Add a comment").fill("Fix planned for 4.2")
    b.get_by_role("button", name="Save comment").click()
    expect(b.get_by_role("listitem", name="Comment by Site Admin")).to_contain_text("Fix planned for 4.2")
    from_alpha = b.get_by_role("listitem", name="Comment by Issue Sync")
    _eventually(b, lambda: expect(from_alpha).to_contain_text("Reproduced on an iPhone SE", timeout=1_000))
    expect(from_alpha).to_contain_text("wrote on alpha.atlassian.net")
    from_beta = a.get_by_role("listitem", name="Comment by Issue Sync")
    _eventually(a, lambda: expect(from_beta).to_contain_text("Fix planned for 4.2", timeout=1_000))
    expect(from_beta).to_contain_text("wrote on beta.atlassian.net")
    # Each comment once on each side: no echo.
    expect(a.get_by_role("list", name="Comments").get_by_role("listitem")).to_have_count(2)
    expect(b.get_by_role("list", name="Comments").get_by_role("listitem")).to_have_count(2)
    shot(b, "61-issue-sync-copy-comments")

    # alpha moves the issue through its workflow: beta's copy reaches the mapped status through its own.
    a.get_by_role("group", name="Transitions").get_by_role("button", name="Start progress").click()
    expect(a.locator("#current-status")).to_have_text("In Progress")
    _eventually(b, lambda: expect(b.locator("#current-status")).to_have_text("In Progress", timeout=1_000))
    expect(b.get_by_role("region", name="History")).to_contain_text("In Progress")

    # A member of beta sees the copy and its panel, but nothing that administers the synchronization.
    m = _page(browser, beta, user="member")
    m.goto(f"{beta.url}/browse/{copy}")
    expect(m.get_by_role("heading", level=1)).to_have_text(edited)
    expect(m.locator("#current-status")).to_have_text("In Progress")
    m_panel = m.get_by_role("region", name="Issue Sync")
    expect(m_panel.get_by_role("link", name=key)).to_be_visible()
    expect(m.get_by_role("button", name="Settings")).to_have_count(0)
    assert_accessible(m)
    for path in (LIST, DETAIL.format(active), ERRORS.format(active)):
        response = m.goto(beta.url + path)
        assert response is not None and response.status == 403, (path, response and response.status)
        expect(m.get_by_role("heading", name="You need to be a Jira administrator")).to_be_visible()
    shot(m, "62-issue-sync-member-refused")
    # The admin API refuses the member too (the CSRF token sent: refused as a member, not as a forgery),
    # and nothing of the synchronization changed.
    csrf = next(c["value"] for c in m.context.cookies(beta.url) if c["name"].endswith("csrftoken"))
    headers = {"Referer": beta.url + "/", "X-CSRFToken": csrf}
    for method, path in (("get", f"/api/synchronizations/{active}/issue-sync/"),
                         ("post", f"/api/synchronizations/{active}/issue-sync/pause/")):
        answer = getattr(m.request, method)(beta.url + path, headers=headers)
        assert answer.status == 403, (method, path, answer.status, answer.text())
        assert "CSRF" not in answer.text(), answer.text()
    summary_now = Api(beta).get(f"/synchronizations/{active}/issue-sync/").json()
    assert summary_now["paused"] is False, summary_now
