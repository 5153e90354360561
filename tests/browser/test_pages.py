"""The Synchronizations pages clicked in a real browser against two live sites.

Every screen is saved as it is reached: to artifacts/screenshots/, or to docs/screenshots/ (the
README's pictures) with UPDATE_SCREENSHOTS=1, so an ordinary test run leaves the checkout clean.
"""
from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from sitectl import Site, wait_for
from tests.browser.session import LIVE, assert_accessible, shot
from tests.browser.session import signed_in as _page
from tests.live import Api, LiveSites

pytestmark = pytest.mark.live


def _open_new(page: Page, site: Site) -> None:
    page.goto(site.url + "/")
    page.get_by_role("link", name="New Synchronization").click()
    expect(page.get_by_role("heading", name="New Synchronization")).to_be_visible()


def _row(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.get_by_role("row").filter(has_text=name)


def _invite(page: Page, site: Site, name: str, partner: str, mode: str, pick: tuple[str, ...] = ()) -> None:
    _open_new(page, site)
    page.get_by_label("Synchronization name").fill(name)
    page.get_by_label("Partner Jira URL").fill(partner)
    page.get_by_label(mode).check()
    for label in pick:
        page.get_by_label(label, exact=True).check()
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("heading", name="Synchronizations")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(f"Invitation to {partner.removeprefix('https://')} queued")
    expect(_row(page, name)).to_contain_text("Invitation sent")


def test_invite_accept_delete_and_remove(browser: Browser, sites: LiveSites) -> None:
    alpha, beta = sites["alpha"], sites["beta"]
    name = f"Support escalations {uuid.uuid4().hex[:6]}"

    anonymous = _page(browser, alpha, user=None)
    anonymous.goto(alpha.url + "/plugins/servlet/ac/issue-sync/synchronizations/")
    expect(anonymous.get_by_label("Username")).to_be_visible()
    # The login page names the site, not the host and port it runs at.
    expect(anonymous).to_have_title("Log in - alpha - Jira")
    expect(anonymous.get_by_role("heading", name="Log in to continue to alpha")).to_be_visible()
    shot(anonymous, "01-login")

    a = _page(browser, alpha)
    a.get_by_role("button", name="Settings").click()
    a.get_by_role("link", name="Apps").click()
    expect(a.get_by_role("navigation", name="Apps").get_by_role("link", name="Synchronizations")).to_be_visible()
    a.get_by_label("Status").select_option("deleted")
    # Choosing a status reloads the list; wait for it before going elsewhere.
    a.wait_for_url(re.compile(r"status=deleted"))
    # A status nobody has shows the empty state. The sites are shared with the other browser tests,
    # so the status is one the filter itself counts as empty (its option reads "… (0)").
    empty = next((o.get_attribute("value") for o in a.get_by_label("Status").locator("option").all()
                  if o.inner_text().endswith("(0)") and o.get_attribute("value")), None)
    assert empty, "every status has a synchronization on alpha: no empty state to show"
    a.goto(alpha.url + f"/plugins/servlet/ac/issue-sync/synchronizations/?status={empty}")
    expect(a.get_by_text("No synchronizations with this status")).to_be_visible()
    shot(a, "02-empty-filter")

    _open_new(a, alpha)
    expect(a.get_by_label("Cloud to Data Center")).to_be_disabled()
    expect(a.get_by_role("link", name="raise a support request")).to_be_visible()
    hint = "Make sure to enter your address in https://yourinstancename.atlassian.net form"
    expect(a.get_by_text(hint)).to_be_visible()
    # The picker is only usable for the two "selected" modes.
    expect(a.get_by_label("ALPHA (Alpha Platform)")).to_be_disabled()
    a.get_by_label("Show only selected").check()
    expect(a.get_by_label("ALPHA (Alpha Platform)")).to_be_enabled()
    a.get_by_label("Search projects and issue types").fill("web")
    expect(a.get_by_label("ALPHA (Alpha Platform)")).to_be_hidden()
    expect(a.get_by_label("WEB (Website)")).to_be_visible()
    shot(a, "03-new-synchronization")
    a.get_by_label("Search projects and issue types").fill("")

    # Every mistake at once, with the keyboard on the first field to fix.
    a.get_by_label("Synchronization name").fill("")
    a.get_by_label("Partner Jira URL").fill("beta.atlassian.net/x")
    a.get_by_label("Show only selected").check()
    a.get_by_role("button", name="Send invitation").click()
    expect(a.locator("#name-error")).to_contain_text("Enter a name")
    expect(a.locator("#address-error")).to_contain_text("Start the address with https://")
    expect(a.locator("#scope-error")).to_contain_text("Select at least one project")
    expect(a.get_by_label("Synchronization name")).to_be_focused()
    expect(a.get_by_label("Partner Jira URL")).to_have_value("beta.atlassian.net/x")  # what was typed is kept
    shot(a, "04-form-errors")

    def submit(address: str, error: str) -> None:
        a.get_by_label("Synchronization name").fill(name)
        a.get_by_label("Partner Jira URL").fill(address)
        a.get_by_label("Show all").check()
        a.get_by_role("button", name="Send invitation").click()
        expect(a.locator("#address-error")).to_contain_text(error)
        expect(a.get_by_label("Partner Jira URL")).to_be_focused()
        expect(a.get_by_label("Synchronization name")).to_have_value(name)
        expect(a.get_by_label("Partner Jira URL")).to_have_value(address)

    # The address error says what is wrong, not the help text again.
    submit("http://beta.atlassian.net", "Use https://, not http://")
    submit("https://beta.example.com", "beta.example.com is not an atlassian.net address")
    submit(alpha.address, "your own Jira site")
    submit("https://nobody.atlassian.net", "not a Jira site we can reach")
    a.get_by_label("Partner Jira URL").fill(beta.address)
    a.get_by_label("Show only selected").check()
    shot(a, "04-form-errors")

    a.get_by_label("ALPHA (Alpha Platform)").check()
    a.get_by_label("Bug", exact=True).check()
    a.get_by_role("button", name="Send invitation").click()
    expect(a.get_by_role("status")).to_contain_text("Invitation to beta.atlassian.net queued")
    expect(_row(a, name)).to_contain_text("Invitation sent")
    shot(a, "05-list-invitation-sent")

    b = _page(browser, beta)
    expect(_row(b, name)).to_contain_text("Invitation received", timeout=LIVE)
    shot(b, "06-list-invitation-received")
    _row(b, name).get_by_role("link", name=re.compile("Next")).click()
    expect(b.get_by_text(f"{alpha.address} invites you")).to_be_visible()
    expect(b.get_by_text("Alpha Platform (ALPHA)")).to_be_visible()  # what alpha lets beta see
    expect(b.get_by_text("Website (WEB)")).to_have_count(0)
    b.get_by_label("Hide only selected").check()
    b.get_by_role("button", name="Accept").click()
    expect(b.get_by_text("Select at least one project")).to_be_visible()
    shot(b, "07-next-accept")
    b.locator("[data-picker] input[type=checkbox]").first.check()
    b.get_by_role("button", name="Accept").click()
    expect(b.get_by_text("Next step: map your fields")).to_be_visible()
    expect(b.get_by_role("status")).to_contain_text("alpha.atlassian.net is told as soon as it can be reached.")
    expect(b.get_by_text("Not configured").first).to_be_visible()

    # Alpha's open list changes by itself.
    expect(_row(a, name)).to_contain_text("Not configured", timeout=LIVE)
    _row(a, name).get_by_role("link", name=name).click()
    expect(a.get_by_role("heading", name="Message history")).to_be_visible()
    expect(a.get_by_role("row").filter(has_text="invitation")).to_have_count(1)
    expect(a.get_by_role("row").filter(has_text="accept")).to_have_count(1)
    shot(a, "08-detail-not-configured")

    a.get_by_role("link", name="Edit scope").click()
    expect(a.get_by_label("Show only selected")).to_be_checked()
    expect(a.get_by_label("ALPHA (Alpha Platform)")).to_be_checked()
    a.get_by_label("Hide only selected").check()
    a.get_by_label("ALPHA (Alpha Platform)").uncheck()
    a.get_by_label("Bug", exact=True).uncheck()
    a.get_by_label("OPS (Operations)").check()
    shot(a, "09-edit-scope")
    a.get_by_role("button", name="Save").click()
    expect(a.get_by_role("status")).to_contain_text(
        "Synchronization Scope saved. beta.atlassian.net is told as soon as it can be reached.")
    expect(a.get_by_text("Hide only selected")).to_be_visible()
    # Beta is told: what alpha lets it see now includes the Website project.
    def beta_sees_website() -> bool:
        b.reload()
        return b.get_by_text("Website (WEB)").count() == 1

    wait_for(beta_sees_website, timeout=LIVE / 1000, interval=0.3, what="beta to see alpha's new scope")

    # Delete sits in the "•••" menu, reached by the keyboard too; its dialog opens on Cancel.
    more = a.get_by_role("button", name="More actions")
    more.focus()
    a.keyboard.press("ArrowDown")
    expect(a.get_by_role("button", name="Delete")).to_be_focused()
    assert_accessible(a)
    a.keyboard.press("Escape")
    expect(more).to_be_focused()
    expect(a.get_by_role("button", name="Delete")).to_be_hidden()
    more.click()
    a.get_by_role("button", name="Delete").click()
    dialog = a.get_by_role("dialog", name="Delete this synchronization?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    a.keyboard.press("Tab")
    a.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # focus stays inside
    shot(a, "10-delete-dialog")
    a.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(more).to_be_focused()
    expect(a.get_by_text("Not configured").first).to_be_visible()
    more.click()
    a.get_by_role("button", name="Delete").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(a.get_by_role("status")).to_contain_text("was deleted. beta.atlassian.net is told as soon as it")
    expect(a.locator(".facts").get_by_text("Deleted")).to_be_visible()

    b.goto(beta.url + "/")
    expect(_row(b, name)).to_contain_text("Deleted", timeout=LIVE)
    _row(b, name).get_by_role("link", name=name).click()
    b.get_by_role("button", name="More actions").click()
    b.get_by_role("button", name="Remove record").click()
    shot(b, "11-remove-record-dialog")
    b.get_by_role("dialog").get_by_role("button", name="Remove record").click()
    expect(b.get_by_role("status")).to_contain_text("removed from the list")
    expect(b.get_by_role("status")).not_to_contain_text("is told")  # the partner is not told
    expect(_row(b, name)).to_have_count(0)


def test_reject_with_confirmation(browser: Browser, sites: LiveSites) -> None:
    alpha, beta = sites["alpha"], sites["beta"]
    name = f"Vendor bugs {uuid.uuid4().hex[:6]}"
    a = _page(browser, alpha)
    _invite(a, alpha, name, beta.address, "Hide only selected", ("OPS (Operations)",))

    b = _page(browser, beta)
    expect(_row(b, name)).to_contain_text("Invitation received", timeout=LIVE)
    _row(b, name).get_by_role("link", name=re.compile("Next")).click()
    expect(b.get_by_text("Operations (OPS)")).to_have_count(0)  # alpha hid it
    b.get_by_role("button", name="Reject").click()
    dialog = b.get_by_role("dialog", name="Reject this invitation?")
    expect(dialog).to_be_visible()
    shot(b, "12-reject-dialog")
    dialog.get_by_role("button", name="Reject").click()
    expect(b.get_by_role("status")).to_contain_text("You rejected")
    expect(b.get_by_role("status")).to_contain_text("alpha.atlassian.net is told as soon as it can be reached.")
    expect(_row(b, name)).to_contain_text("Rejected")

    expect(_row(a, name)).to_contain_text("Rejected", timeout=LIVE)
    shot(a, "13-list-rejected")
    _row(a, name).get_by_role("link", name=name).click()
    a.get_by_role("button", name="More actions").click()
    a.get_by_role("button", name="Remove record").click()
    a.get_by_role("dialog").get_by_role("button", name="Remove record").click()
    expect(_row(a, name)).to_have_count(0)


def test_member_is_refused_and_inactive_partner_is_reported(browser: Browser, sites: LiveSites) -> None:
    alpha, beta = sites["alpha"], sites["beta"]
    m = _page(browser, alpha, user="member")
    response = m.goto(alpha.url + "/plugins/servlet/ac/issue-sync/synchronizations/new/")
    assert response is not None and response.status == 403
    expect(m.get_by_role("heading", name="You need to be a Jira administrator")).to_be_visible()
    # A member is not shown the way to Settings > Apps at all.
    expect(m.get_by_role("button", name="Settings")).to_have_count(0)
    expect(m.get_by_role("navigation", name="Apps")).to_have_count(0)
    shot(m, "14-member-forbidden")

    off = "from jira.models import SiteConfiguration as S; S.objects.filter(pk=1).update(issue_sync_active={})"
    beta.manage("shell", "-c", off.format(False))
    # What alpha last fetched of beta (kept for two seconds, and only ever trusted when it says active)
    # is forgotten, as if those seconds had passed since another test's invitation.
    alpha.manage("shell", "-c", "from invitations.models import PartnerDocument as D; D.objects.all().delete()")
    try:
        a = _page(browser, alpha)
        _open_new(a, alpha)
        a.get_by_label("Synchronization name").fill("Inactive partner")
        a.get_by_label("Partner Jira URL").fill(beta.address)
        a.get_by_role("button", name="Send invitation").click()
        expect(a.locator("#address-error")).to_contain_text(f"Issue Sync is not active on {beta.address}")
    finally:
        beta.manage("shell", "-c", off.format(True))
    name = f"Everything {uuid.uuid4().hex[:6]}"
    _invite(a, alpha, name, beta.address, "Show all")


def test_the_shell_from_the_keyboard_and_in_a_narrow_window(browser: Browser, sites: LiveSites,
                                                            alpha_api: Api) -> None:
    alpha = sites["alpha"]
    r = alpha_api.post("/synchronizations/", {"name": f"Narrow {uuid.uuid4().hex[:6]}",
                                              "partner_address": "https://beta.atlassian.net",
                                              "scope": {"mode": "show_all"}})
    assert r.status_code == 201, r.text
    a = _page(browser, alpha)
    a.goto(alpha.url + "/plugins/servlet/ac/issue-sync/synchronizations/new/")
    # The first Tab reaches the skip link; it takes the keyboard to the content.
    a.keyboard.press("Tab")
    skip = a.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    assert_accessible(a)
    a.keyboard.press("Enter")
    expect(a.get_by_role("main")).to_be_focused()

    # Radios and checkboxes show where the keyboard is.
    a.get_by_label("Synchronization name").focus()
    a.keyboard.press("Tab")
    radio = a.get_by_label("Cloud to Cloud")
    expect(radio).to_be_focused()
    assert radio.evaluate("el => getComputedStyle(el).outlineStyle") == "solid"
    assert radio.evaluate("el => getComputedStyle(el).outlineWidth") == "2px"

    # The Settings menu: arrow keys in, Escape out (back on its button).
    settings = a.get_by_role("button", name="Settings")
    settings.focus()
    a.keyboard.press("ArrowDown")
    expect(a.get_by_role("link", name="Apps")).to_be_focused()
    expect(settings).to_have_attribute("aria-expanded", "true")
    a.keyboard.press("ArrowDown")
    expect(a.get_by_role("link", name="REST API documentation")).to_be_focused()
    expect(a.get_by_role("link", name="REST API documentation")).to_have_attribute("href", "/api/docs/")
    a.keyboard.press("ArrowDown")
    expect(a.get_by_role("link", name="Apps")).to_be_focused()  # round again
    assert_accessible(a)
    a.keyboard.press("Escape")
    expect(settings).to_be_focused()
    expect(a.get_by_role("link", name="Apps")).to_be_hidden()

    # The user is an avatar with a menu, not a pill that looks like a button.
    a.get_by_role("button", name="Your profile: Site Admin").click()
    expect(a.get_by_role("button", name="Log out")).to_be_visible()
    assert_accessible(a)
    a.keyboard.press("Escape")
    expect(a.get_by_role("button", name="Log out")).to_be_hidden()

    # A narrow window: nothing wider than the window, on the list and on the form.
    narrow = _page(browser, alpha, width=360)
    for path in ("/plugins/servlet/ac/issue-sync/synchronizations/",
                 "/plugins/servlet/ac/issue-sync/synchronizations/new/"):
        narrow.goto(alpha.url + path)
        too_wide = narrow.evaluate("""() => Array.from(document.querySelectorAll('body *'))
            .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1 && !el.closest('.table-scroll'))
            .map(el => el.tagName + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().right))""")
        assert not too_wide, (path, too_wide)
        assert narrow.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        assert_accessible(narrow)
    shot(narrow, "17-narrow-window")
