"""Synchronize existing issues clicked in a real browser between two live sites: a dry run, then
Create missing with its progress bar moving to 100 %, then beta holds what the dry run said."""
from __future__ import annotations

import uuid

import psycopg
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.session import LIVE, assert_accessible, shot
from tests.browser.session import signed_in as _page
from tests.browser.test_mappings import DETAIL
from tests.live import PG_BASE, Api, LiveSites, synchronization_accepted

pytestmark = pytest.mark.live
COUNT, COMMENTS = 60, 2
MAKE_ISSUES = """
from django.contrib.auth.models import User
from jira import services as s
from jira.signals import Origin
u = User.objects.get(username="admin")
for n in range({count}):
    i = s.issue_create(actor=u, origin=Origin.person(u.pk), fields={{"project": {{"key": "ALPHA"}},
        "issuetype": {{"name": "Bug"}}, "summary": "Before the mapping " + str(n), "labels": ["{label}"]}})
    for c in range({comments}):
        s.comment_add(actor=u, origin=Origin.person(u.pk), issue=i.pk, body="Note " + str(c))
"""


def _beta_count(sites: LiveSites, sql: str, *args: object) -> int:
    with psycopg.connect(f"{PG_BASE}/{sites.databases['beta']}", autocommit=True) as conn:
        return int(conn.execute(sql, args).fetchone()[0])  # type: ignore[arg-type,index]


def test_a_dry_run_then_create_missing_with_a_live_progress_bar(browser: Browser, sites: LiveSites,
                                                                  alpha_api: Api, beta_api: Api) -> None:
    alpha = sites["alpha"]
    label = f"before-{uuid.uuid4().hex[:6]}"
    sync_id = synchronization_accepted(alpha_api, beta_api, f"Existing issues {label}")
    # The issues exist before any mapping: nothing copies them by itself.
    alpha.manage("shell", "-c", MAKE_ISSUES.format(count=COUNT, comments=COMMENTS, label=label))
    r = alpha_api.post(f"/synchronizations/{sync_id}/mappings/", {
        "name": "Bugs before", "local_project": "ALPHA", "partner_project": "BETA",
        "issue_types": [{"local": "Bug", "partner": "Bug"}],
        "field_pairs": [{"local": "summary", "partner": "summary", "direction": "both"}],
        "value_maps": {}, "comments": "both", "filter": f"labels = {label}", "enabled": True})
    assert r.status_code == 201, r.text
    beta_api.wait_status(sync_id, "active")

    a = _page(browser, alpha)
    a.goto(alpha.url + DETAIL.format(sync_id))
    section = a.get_by_role("region", name="Synchronize existing issues")
    expect(section.get_by_role("group", name="Mode for Bugs before")).to_be_visible()
    expect(section.get_by_label("Create missing", exact=False)).to_be_checked()
    section.get_by_role("button", name="Dry run").click()
    expect(a.get_by_text("Dry run of “Bugs before” started")).to_be_visible()
    summary = section.locator("[data-run-summary]")
    expect(section.get_by_text("Dry run of Create missing: what would happen")).to_be_visible(timeout=6 * LIVE)
    expect(summary.locator("[data-count=created]")).to_have_text(str(COUNT))
    expect(summary.locator("[data-count=comments]")).to_have_text(str(COUNT * COMMENTS))
    expect(summary.locator("[data-count=failed]")).to_have_text("0")
    would_create = int(summary.locator("[data-count=created]").inner_text())
    assert _beta_count(sites, "SELECT count(*) FROM replication_issuelink WHERE synchronization_id = %s",
                       sync_id) == 0  # nothing sent
    shot(a, "60-first-sync-dry-run")

    section.get_by_role("button", name="Start").click()
    expect(a.get_by_text("Create missing of “Bugs before” started")).to_be_visible()
    bar = section.get_by_role("progressbar", name="Bugs before: issues done")
    expect(bar).to_be_visible()
    # Every value the bar shows as the page updates itself (its poll replaces the content), recorded
    # by the page as it happens.
    a.evaluate("""() => {
        window.barValues = [];
        const record = () => document.querySelectorAll("progress.run-progress")
            .forEach(p => window.barValues.push(Number(p.value)));
        record();
        new MutationObserver(record).observe(document.querySelector("[data-live-detail]"),
                                             {childList: true, subtree: true});
    }""")
    expect(section.get_by_role("button", name="Pause")).to_be_visible()
    expect(section.get_by_role("button", name="Cancel")).to_be_visible()
    assert_accessible(a)
    expect(section.get_by_text("Create missing: done")).to_be_visible(timeout=30 * LIVE)
    seen = a.evaluate("window.barValues")
    assert min(seen) < 100 and max(seen) == 100, seen  # it moved, up to 100 %
    expect(summary.locator("[data-count=created]")).to_have_text(str(would_create))
    expect(summary.locator("[data-count=comments]")).to_have_text(str(COUNT * COMMENTS))
    expect(section.get_by_role("table", name="Earlier runs")).to_contain_text("Dry run: Create missing")
    shot(a, "61-first-sync-done")
    # beta holds exactly what the dry run said: one copy per issue, each with its comments.
    assert _beta_count(sites, "SELECT count(*) FROM replication_issuelink WHERE synchronization_id = %s",
                       sync_id) == would_create
    assert _beta_count(sites, "SELECT count(*) FROM replication_commentlink c JOIN replication_issuelink l "
                              "ON l.id = c.link_id WHERE l.synchronization_id = %s", sync_id) == COUNT * COMMENTS
