"""The list in a real browser with 1,000 rows: it never moves under the admin (focus and pointer stay
where they are while the partner changes a row), it polls conditionally, and one row is found by
search; sortable columns, numbered pages and a count per status."""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Response, expect

from sitectl import Site
from tests.browser.session import LIVE, assert_accessible, shot, signed_in
from tests.live import Api, LiveSites

pytestmark = pytest.mark.live
LIST = "/plugins/servlet/ac/issue-sync/synchronizations/"

ROWS = """
import datetime
from django.utils import timezone
from synchronizations.models import Role, Scope, Synchronization
statuses = ["active", "not_configured", "invitation_sent", "rejected", "deleted"]
now = timezone.now()
scopes = Scope.objects.bulk_create([Scope(mode="show_all") for _ in range(1000)])
syncs = Synchronization.objects.bulk_create([
    Synchronization(name=f"{PREFIX} {i:04d}", partner_address="https://beta.atlassian.net", role=Role.INVITER,
                    status=statuses[i % 5], scope=scope)
    for i, scope in enumerate(scopes)])
for i, s in enumerate(syncs):
    s.updated_at = now - datetime.timedelta(minutes=i + 1)
Synchronization.objects.bulk_update(syncs, ["updated_at"], batch_size=500)  # no auto_now here
"""
CLEAN = """
from synchronizations.models import Synchronization
Synchronization.objects.filter(name__startswith=PREFIX).delete()
"""


def _run(site: Site, code: str, **values: str) -> None:
    site.manage("shell", "-c", "".join(f"{k} = {v!r}\n" for k, v in values.items()) + code)


@pytest.fixture(scope="module")
def thousand(sites: LiveSites) -> Iterator[str]:
    """1,000 synchronizations on alpha, newest first a minute apart, all older than anything else."""
    prefix = f"Bulk {uuid.uuid4().hex[:6]}"
    _run(sites["alpha"], ROWS, PREFIX=prefix)
    yield prefix
    _run(sites["alpha"], CLEAN, PREFIX=prefix)


def test_the_list_never_moves_under_the_admin_while_the_partner_changes_a_row(
        browser: Browser, sites: LiveSites, alpha_api: Api, beta_api: Api, thousand: str) -> None:
    alpha = sites["alpha"]
    # Named under the bulk rows' prefix, and the list searched by it: the page holds only this test's rows,
    # whatever the other tests sharing these sites left or still change.
    name = f"{thousand} moves later"
    r = alpha_api.post("/synchronizations/", {"name": name, "partner_address": "https://beta.atlassian.net",
                                              "scope": {"mode": "show_all"}})
    assert r.status_code == 201, r.text
    sync_id = str(r.json()["id"])
    beta_api.wait_status(sync_id, "invitation_received")
    # Put it 45th on the first page: older than the 44 newest bulk rows.
    _run(alpha, "from synchronizations.models import Synchronization as S\n"
                "S.objects.filter(pk=SID).update(updated_at=S.objects.get(name=f'{PREFIX} 0043').updated_at"
                " - __import__('datetime').timedelta(seconds=30))", SID=sync_id, PREFIX=thousand)

    a = signed_in(browser, alpha)
    a.goto(alpha.url + LIST + f"?q={thousand.replace(' ', '+')}")
    rows = a.locator("tbody tr")
    expect(rows.nth(44)).to_contain_text(name)

    def unchanged(response: Response) -> bool:
        return bool(response.request.headers.get("x-live-rows")) and response.status == 304

    # While nothing changes, the polls are answered 304, without the table.
    with a.expect_response(unchanged, timeout=LIVE * 2) as answer:
        pass
    assert answer.value.headers.get("etag")

    # The keyboard is on the 10th row's link, the pointer over the 20th row.
    tenth = rows.nth(9).get_by_role("link")
    tenth.focus()
    rows.nth(19).hover()
    pointed = rows.nth(19).bounding_box()
    pointed_text = rows.nth(19).inner_text()

    assert beta_api.post(f"/synchronizations/{sync_id}/accept/", {"mode": "show_all"}).status_code == 200
    moved = rows.nth(44)
    # The changed row changes in place: same position, new status; nothing else moved.
    expect(moved).to_contain_text("Not configured", timeout=LIVE * 2)
    expect(moved).to_contain_text(name)
    expect(tenth).to_be_focused()
    assert rows.nth(19).bounding_box() == pointed and rows.nth(19).inner_text() == pointed_text
    notice = a.get_by_role("button", name=re.compile(r"^\d+ updated · Show$"))
    expect(notice).to_be_visible()
    shot(a, "15-list-updated-in-place")
    # The next Tab goes on from where the keyboard was, not from the top of the page.
    a.keyboard.press("Tab")
    assert a.evaluate("() => document.activeElement.closest('tbody tr') !== null")
    # Show lays the list out again: the changed row is now the newest.
    notice.click()
    expect(rows.first).to_contain_text(name)
    expect(notice).to_be_hidden()
    assert_accessible(a)
    # The next test counts the bulk rows alone.
    _run(alpha, "from synchronizations.models import Synchronization as S\nS.objects.filter(pk=SID).delete()",
         SID=sync_id)


def test_search_sort_pages_and_counts_find_one_row_among_a_thousand(
        browser: Browser, sites: LiveSites, thousand: str) -> None:
    alpha = sites["alpha"]
    a = signed_in(browser, alpha)
    a.goto(alpha.url + LIST)
    # A count per status in the filter, and numbered pages.
    expect(a.get_by_label("Status").locator("option", has_text=re.compile(r"^Active \(\d+\)$"))).to_have_count(1)
    pages = a.get_by_role("navigation", name="Pages")
    expect(pages.get_by_role("link", name="Page 1", exact=True)).to_have_attribute("aria-current", "page")
    pages.get_by_role("link", name="Page 3", exact=True).click()
    expect(a.get_by_text(re.compile(r"^Page 3 of \d+$"))).to_be_visible()
    assert_accessible(a)

    search = a.get_by_role("searchbox", name="Search by name or partner")
    search.fill(f"{thousand} 0777")
    search.press("Enter")
    expect(a.locator("tbody tr")).to_have_count(1)
    expect(a.locator("tbody tr")).to_contain_text(f"{thousand} 0777")
    expect(a.get_by_label("Status").locator("option").first).to_have_text("All statuses (1)")
    shot(a, "16-list-search")

    search.fill(thousand)
    search.press("Enter")
    expect(a.get_by_text("Page 1 of 20", exact=True)).to_be_visible()
    a.get_by_role("link", name="Name", exact=True).click()
    expect(a.get_by_role("columnheader", name="Name")).to_have_attribute("aria-sort", "ascending")
    expect(a.locator("tbody tr").first).to_contain_text(f"{thousand} 0000")
    a.get_by_role("link", name="Name", exact=True).click()
    expect(a.get_by_role("columnheader", name="Name")).to_have_attribute("aria-sort", "descending")
    expect(a.locator("tbody tr").first).to_contain_text(f"{thousand} 0999")
    # Delivered rows say nothing in the Delivery column.
    expect(a.locator("tbody .delivery")).to_have_count(0)
    assert_accessible(a)

    search.fill("no such synchronization")
    search.press("Enter")
    expect(a.get_by_text("No synchronizations match")).to_be_visible()
    assert_accessible(a)
