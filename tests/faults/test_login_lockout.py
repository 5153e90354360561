"""Twenty wrong passwords for admin against a live site: locked out with a message, the lock visible to
an admin, unlocked after the configured time (the fault suite's sites lock for 3 s, LOGIN_LOCKOUT_MINUTES)."""
from __future__ import annotations

import time

import pytest
import requests

from sitectl import wait_for
from tests.faults.conftest import Faulty
from tests.live import admin_session

pytestmark = pytest.mark.live

LOCKED = "Too many failed login attempts: this account is locked for 3 seconds."


def test_twenty_wrong_passwords_lock_admin_out_until_the_configured_time(f: Faulty) -> None:
    site = f.sites["alpha"]
    s = requests.Session()
    s.get(site.url + "/login/", timeout=10)
    csrf = next(c for c in s.cookies if c.name.endswith("csrftoken")).value or ""

    def login(password: str) -> requests.Response:
        return s.post(site.url + "/login/", data={"username": "admin", "password": password,
                                                  "csrfmiddlewaretoken": csrf},
                      headers={"Referer": site.url + "/login/"}, timeout=10, allow_redirects=False)

    answers = []
    for _ in range(20):
        answers.append(login("wrong"))
        if len(answers) == 10:
            locked_at = time.monotonic()
    assert [r.status_code for r in answers] == [200] * 9 + [429] * 11
    assert "did not match" in answers[0].text
    assert LOCKED in answers[-1].text
    right = login("admin")
    assert right.status_code == 429 and LOCKED in right.text  # the right password, refused while locked

    # An admin (a session opened before) sees the lock in the Django admin.
    page = f.alpha.http.get(site.url + "/django-admin/axes/accessattempt/", timeout=10)
    assert page.status_code == 200 and "admin" in page.text and "127.0.0.1" in page.text

    wait_for(lambda: admin_session(site), timeout=30, interval=0.2, what="admin to be let in again")
    unlocked = time.monotonic() - locked_at
    assert unlocked >= 2.5  # not before the lock's time (3 s; the clock read after the 10th answer)
    print(f"\nFAULT login lockout: 20 wrong passwords answered {answers[0].status_code} x9 then 429 x11; "
          f"right password 429 while locked; unlocked {unlocked:.1f}s after the lock (configured 3 s)")
