"""What every browser test shares: Debian's Chromium, a signed-in page per user, screenshots, and the
accessibility check (axe-core, from the npm registry, injected into the page as it is)."""
from __future__ import annotations

import json
import os
import re

from playwright.sync_api import Browser, Page

from sitectl import ROOT, Site

SHOTS = ROOT / ("docs" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else "artifacts") / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
LIVE = 5_000  # ms: the list polls every second or two, so a partner's change shows within a few.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
# The rules of WCAG 2.0-2.2 A and AA, and axe's best practices (landmarks, headings, skip link).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def signed_in(browser: Browser, site: Site, user: str | None = "admin", width: int = 1280) -> Page:
    page = browser.new_context(viewport={"width": width, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    if user:
        page.goto(site.url + "/login/")
        page.get_by_label("Username").fill(user)
        page.get_by_label("Password").fill(user)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"/(synchronizations/|$)"))
        assert_accessible(page)
    return page


def assert_accessible(page: Page) -> None:
    """axe-core finds no violation in the page as it is now (open dialogs and menus included)."""
    if not AXE.exists():
        raise RuntimeError(f"{AXE} is missing: run 'make axe' (npm ci) first")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("options => axe.run(document, options)",
                           {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]})
    violations = [
        {"rule": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [{"target": n["target"], "summary": n["failureSummary"]} for n in v["nodes"][:5]]}
        for v in result["violations"]
    ]
    assert not violations, f"axe-core on {page.url}:\n{json.dumps(violations, indent=1)}"


def shot(page: Page, name: str) -> None:
    """Check the page's accessibility, then save it as a picture."""
    assert_accessible(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
