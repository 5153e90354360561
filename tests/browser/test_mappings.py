"""Mappings clicked in a real browser: Not configured -> Active on both sites and back, a stale edit
refused, and a narrowed scope that disables a mapping with a warning on both sides."""
from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, expect

from sitectl import wait_for
from tests.browser.session import LIVE, assert_accessible, shot
from tests.browser.session import signed_in as _page
from tests.live import Api, LiveSites, synchronization_accepted

pytestmark = pytest.mark.live
DETAIL = "/plugins/servlet/ac/issue-sync/synchronizations/{}/"


def test_add_enable_disable_and_a_stale_edit(browser: Browser, sites: LiveSites,
                                             alpha_api: Api, beta_api: Api) -> None:
    alpha, beta = sites["alpha"], sites["beta"]
    name = f"Mobile escalations {uuid.uuid4().hex[:6]}"
    sync_id = synchronization_accepted(alpha_api, beta_api, name)

    a = _page(browser, alpha)
    a.goto(alpha.url + DETAIL.format(sync_id))
    expect(a.locator(".facts")).to_contain_text("Not configured")
    expect(a.get_by_text("No mappings yet")).to_be_visible()
    b = _page(browser, beta)
    b.goto(beta.url + DETAIL.format(sync_id))
    expect(b.locator(".facts")).to_contain_text("Not configured")
    # beta's admin is on a link of the top bar while alpha changes the synchronization.
    b_focus = b.get_by_role("link", name="Projects", exact=True)
    b_focus.focus()
    a.get_by_role("link", name="Add mapping").first.click()
    expect(a.get_by_role("heading", name="Add mapping")).to_be_visible()

    # Saving with nothing chosen explains each missing part and keeps what was typed.
    a.get_by_label("Mapping name").fill("Bugs both ways")
    a.get_by_role("button", name="Save mapping").click()
    expect(a.get_by_text("Choose one of this site's projects that the scope shows.")).to_be_visible()
    expect(a.get_by_text("Add at least one pair of issue types.")).to_be_visible()
    expect(a.get_by_label("Mapping name")).to_have_value("Bugs both ways")

    a.get_by_label("This site's project").select_option(label="Alpha Platform (ALPHA)")
    a.get_by_label("Partner's project").select_option(label="Beta Mobile App (BETA)")
    a.get_by_label("This site's issue type 1").select_option("Bug")
    a.get_by_label("Partner's issue type 1").select_option("Bug")
    # Summary and Description are paired already, with one blank row; rows are added and removed.
    expect(a.get_by_label(re.compile(r"^This site's field \d$"))).to_have_count(3)
    a.get_by_role("button", name="Add field pair").click()
    expect(a.get_by_label("This site's field 4")).to_be_focused()
    a.get_by_label("This site's field 4").select_option(label="Priority (select list)")
    assert_accessible(a)
    a.get_by_role("button", name="Remove field pair 4").click()
    expect(a.get_by_label("This site's field 4")).to_have_count(0)
    expect(a.get_by_role("button", name="Remove field pair 3")).to_be_focused()
    # Each field shows its type, and a text field is offered only the partner's text fields.
    a.get_by_label("This site's field 3").select_option(label="Customer (text)")
    partner_field = a.get_by_label("Partner's field 3")
    expect(partner_field.locator("option", has_text="Estimate (number)")).to_be_disabled()
    expect(partner_field.locator("option", has_text="Client (text)")).to_be_enabled()
    # A pair that cannot work (forced past the editor's filter here, as when the partner changed a
    # field's type meanwhile) is refused on its own row, not at the top of the section.
    partner_field.evaluate("s => { for (const o of s.options) { o.disabled = false; o.hidden = false; } }")
    partner_field.select_option(label="Estimate (number)")
    a.get_by_role("button", name="Save mapping").click()
    expect(partner_field).to_have_attribute("aria-invalid", "true")
    expect(partner_field).to_have_accessible_description(
        re.compile(r"Customer \(text\) cannot be mapped to Estimate \(number\)"))
    expect(a.get_by_role("group", name="Fields").get_by_role("alert")).to_have_count(0)
    expect(partner_field).to_have_value(re.compile("customfield_"))  # what was chosen is kept
    assert_accessible(a)
    partner_field.select_option(label="Client (text)")
    a.get_by_label("Direction 3").select_option(label="To the partner only")
    shot(a, "20-add-mapping")
    a.get_by_role("button", name="Save mapping").click()

    expect(a.get_by_role("status")).to_contain_text(
        "Mapping “Bugs both ways” saved. beta.atlassian.net is told as soon as it can be reached.")
    row = a.locator("#mappings").get_by_role("row").filter(has_text="Bugs both ways")
    expect(row).to_contain_text("ALPHA ↔ BETA")
    expect(row).to_contain_text("Summary ↔ Summary, Description ↔ Description, Customer → Client")
    expect(row).to_contain_text("Enabled")
    expect(a.locator(".facts")).to_contain_text("Active")
    shot(a, "21-detail-active")

    # beta sees the same mapping from its side, and is Active too.
    # beta's page is open before alpha saves: it changes by itself, no reload.
    b_row = b.locator("#mappings").get_by_role("row").filter(has_text="Bugs both ways")
    expect(b_row).to_contain_text("BETA ↔ ALPHA", timeout=LIVE)
    expect(b.locator(".facts")).to_contain_text("Active", timeout=LIVE)
    expect(b_focus).to_be_focused()  # the page changed under it, the focus stayed
    # While nothing changes, the open page's polls are answered 304, with no body.
    with b.expect_response(lambda r: r.url == beta.url + DETAIL.format(sync_id) and r.status == 304,
                           timeout=3 * LIVE):
        pass

    # alpha opens the editor; meanwhile beta renames the mapping. alpha's save is refused, not merged.
    a.locator("#mappings").get_by_role("link", name="Bugs both ways").click()
    expect(a.get_by_role("heading", name="Edit mapping")).to_be_visible()
    expect(a.get_by_label("This site's field 3")).to_have_value(re.compile("customfield_"))
    b_row.get_by_role("link", name="Bugs both ways").click()
    expect(b.get_by_label("This site's project")).to_have_value("BETA")
    expect(b.get_by_label("Direction 3")).to_have_value("from_partner")
    b.get_by_label("Mapping name").fill("Bugs, renamed on beta")
    b.get_by_role("button", name="Save mapping").click()
    expect(b.get_by_role("status")).to_contain_text("saved")
    wait_for(lambda: alpha_api.get(f"/synchronizations/{sync_id}/mappings/").json()[0]["version"] == 2,
             timeout=10, what="alpha to receive beta's edit")
    a.get_by_label("Filter").fill("labels = mobile")
    a.get_by_role("button", name="Save mapping").click()
    stale = a.get_by_role("alert")
    expect(stale).to_contain_text("This mapping was changed by admin (https://beta.atlassian.net)")
    # What beta changed since alpha opened the editor is listed; what alpha typed is kept.
    expect(stale.get_by_role("listitem")).to_have_text(["Mapping name: now “Bugs, renamed on beta”"])
    expect(stale).to_be_focused()
    expect(a.get_by_label("Filter")).to_have_value("labels = mobile")
    expect(a.get_by_label("This site's field 3")).to_have_value(re.compile("customfield_"))
    shot(a, "22-stale-edit")
    a.goto(alpha.url + DETAIL.format(sync_id))
    expect(a.locator("#mappings")).to_contain_text("Bugs, renamed on beta")
    # The message history says who changed what.
    history = a.get_by_role("row").filter(has_text="Mapping “Bugs, renamed on beta” version 2")
    expect(history).to_contain_text("admin (https://beta.atlassian.net)")

    # Disabling the only enabled mapping on beta: Not configured on both sides.
    b.goto(beta.url + DETAIL.format(sync_id))
    b.get_by_role("button", name="Disable Bugs, renamed on beta").click()
    expect(b.get_by_role("status")).to_contain_text(
        "Mapping “Bugs, renamed on beta” disabled. alpha.atlassian.net is told as soon as it can be reached.")
    expect(b.locator(".facts")).to_contain_text("Not configured")
    expect(a.locator(".facts")).to_contain_text("Not configured", timeout=LIVE)
    expect(a.locator("#mappings").get_by_role("row").filter(has_text="renamed")).to_contain_text("Disabled")

    # Delete asks first, then the mapping is gone on both sides.
    a.get_by_role("button", name="Delete Bugs, renamed on beta").click()
    dialog = a.get_by_role("dialog", name="Delete this mapping?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Delete mapping").click()
    expect(a.get_by_role("status")).to_contain_text("deleted. beta.atlassian.net is told as soon as it can be reached.")
    expect(a.get_by_text("No mappings yet")).to_be_visible()
    expect(b.get_by_text("No mappings yet")).to_be_visible(timeout=LIVE)
    expect(b.locator(".facts")).to_contain_text("Not configured")


def test_narrowing_the_scope_disables_a_mapping_with_a_warning_on_both_sites(
    browser: Browser, sites: LiveSites, alpha_api: Api, beta_api: Api
) -> None:
    alpha, beta = sites["alpha"], sites["beta"]
    sync_id = synchronization_accepted(alpha_api, beta_api, f"Narrowed {uuid.uuid4().hex[:6]}")
    r = beta_api.post(f"/synchronizations/{sync_id}/mappings/", {
        "name": "Website bugs", "local_project": "BETA", "partner_project": "WEB",
        "issue_types": [{"local": "Bug", "partner": "Bug"}],
        "field_pairs": [{"local": "summary", "partner": "summary", "direction": "both"}],
        "value_maps": {}, "comments": "off", "filter": "", "enabled": True,
    })
    assert r.status_code == 201, r.text
    alpha_api.wait_status(sync_id, "active")

    b = _page(browser, beta)
    b.goto(beta.url + DETAIL.format(sync_id))
    expect(b.locator("#mappings")).to_contain_text("Enabled")
    a = _page(browser, alpha)
    a.goto(alpha.url + DETAIL.format(sync_id))
    a.get_by_role("link", name="Edit scope").click()
    a.get_by_label("Hide only selected").check()
    a.get_by_label("WEB (Website)").check()
    a.get_by_role("button", name="Save").click()
    # Before anything is saved: which mapping the new scope disables, and a second, explicit click.
    alert = a.get_by_role("alert")
    expect(alert).to_contain_text("Saving this scope disables 1 mapping")
    expect(alert.get_by_role("listitem")).to_have_text(["Website bugs"])
    expect(alert).to_be_focused()
    expect(a.get_by_label("WEB (Website)")).to_be_checked()  # what was chosen is kept
    shot(a, "24-scope-warning")
    b.reload()
    expect(b.locator("#mappings")).to_contain_text("Enabled")  # nothing saved yet
    a.get_by_role("button", name="Save and disable 1 mapping").click()
    expect(a.get_by_role("status")).to_contain_text("Synchronization Scope saved. 1 mapping disabled: “Website bugs”")
    expect(a.get_by_role("status")).to_contain_text("beta.atlassian.net is told as soon as it can be reached.")
    warning = "Disabled because a scope no longer shows WEB"
    expect(a.locator("#mappings")).to_contain_text(warning)
    expect(a.locator(".facts")).to_contain_text("Not configured")
    shot(a, "23-mapping-disabled-by-scope")

    expect(b.locator("#mappings")).to_contain_text(warning, timeout=LIVE)
    expect(b.locator(".facts")).to_contain_text("Not configured")
    # Enabling it again is refused while the scope hides the project, with the reason next to the
    # Enable button (its description), which keeps the focus.
    b.get_by_role("button", name="Enable Website bugs").click()
    enable = b.get_by_role("button", name="Enable Website bugs")
    expect(enable).to_be_focused()
    expect(enable).to_have_accessible_description(
        re.compile("This mapping cannot be enabled: Choose one of the partner's projects"))
    row = b.locator("#mappings").get_by_role("row").filter(has_text="Website bugs")
    expect(row.get_by_role("alert")).to_contain_text("cannot be enabled")
    expect(b.locator(".flag")).to_have_count(0)  # not a flag far from the button
    shot(b, "25-enable-refused")
    expect(b.locator(".facts")).to_contain_text("Not configured")


def test_value_pairs_are_picked_from_both_sides_option_lists(browser: Browser, sites: LiveSites,
                                                             alpha_api: Api, beta_api: Api) -> None:
    alpha = sites["alpha"]
    sync_id = synchronization_accepted(alpha_api, beta_api, f"Priorities {uuid.uuid4().hex[:6]}")
    a = _page(browser, alpha)
    a.goto(alpha.url + DETAIL.format(sync_id).rstrip("/") + "/mappings/add/")
    a.get_by_label("Mapping name").fill("Priorities")
    a.get_by_label("This site's project").select_option(label="Alpha Platform (ALPHA)")
    a.get_by_label("Partner's project").select_option(label="Beta Mobile App (BETA)")
    a.get_by_label("This site's issue type 1").select_option("Bug")
    a.get_by_label("Partner's issue type 1").select_option("Bug")
    a.get_by_label("This site's field 3").select_option(label="Priority (select list)")
    a.get_by_label("Partner's field 3").select_option(label="Priority (select list)")
    a.get_by_role("button", name="Add value pair").click()
    a.get_by_label("Value field 1").select_option(label="Priority")
    # Only Priority's values are offered on each side, from each site's own list.
    theirs, ours = a.get_by_label("Partner's value 1"), a.get_by_label("This site's value 1")
    expect(ours.locator("optgroup[label='Status']")).to_have_attribute("hidden", "")
    expect(theirs.locator("optgroup[label='Priority']")).not_to_have_attribute("hidden", "")
    theirs.select_option("Highest")
    ours.select_option("High")
    assert_accessible(a)
    a.get_by_role("button", name="Save mapping").click()
    expect(a.get_by_role("status")).to_contain_text("Mapping “Priorities” saved")
    a.locator("#mappings").get_by_role("link", name="Priorities").click()
    expect(a.get_by_label("Partner's value 1")).to_have_value("Highest")
    expect(a.get_by_label("This site's value 1")).to_have_value("High")
