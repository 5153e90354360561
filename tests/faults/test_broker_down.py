"""The broker's port closed while admins act: every answer tells the truth.

Both sites reach Redis only through a gate (tests/faults/proxy.py `Gate`) that is shut while admins
create, accept, reject, delete, retry and save mappings, through the API and the pages. A change
that was committed is answered 2xx (or the page's redirect), never 500; once the gate opens again,
every one of those changes is delivered and applied once on the other side.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from sitectl import ROOT, wait_for
from tests.faults.conftest import Faulty
from tests.faults.proxy import Gate, Proxy, http_response
from tests.live import REDIS_URL, Api, live_sites

pytestmark = pytest.mark.live

PAGES = "/plugins/servlet/ac/issue-sync/synchronizations/"
MAPPING = {
    "name": "Mobile bugs", "local_project": "ALPHA", "partner_project": "BETA",
    "issue_types": [{"local": "Bug", "partner": "Bug"}],
    "field_pairs": [{"local": "summary", "partner": "summary", "direction": "both"}],
    "value_maps": {}, "comments": "both", "filter": "", "enabled": True,
}


@pytest.fixture()
def gated(pg_template: str) -> Iterator[tuple[Faulty, Gate]]:
    redis = urlsplit(REDIS_URL)
    gate, proxy = Gate(upstream=redis.port or 6379), Proxy()
    gated_url = urlunsplit(redis._replace(netloc=f"127.0.0.1:{gate.port}"))
    try:
        with live_sites(pg_template, reach={"beta": proxy.port}, REDIS_URL=gated_url) as sites:
            proxy.upstream = sites.ports["beta"]
            yield Faulty(sites, proxy, Api(sites["alpha"]), Api(sites["beta"])), gate
    finally:
        gate.shut()
        proxy.close()


def _created(r: requests.Response) -> str:
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_every_answer_tells_the_truth_while_the_broker_port_is_closed(gated: tuple[Faulty, Gate]) -> None:
    f, gate = gated
    invite = {"sync_type": "cloud_to_cloud", "partner_address": "https://beta.atlassian.net",
              "scope": {"mode": "show_all"}}
    # Before the fault: one accepted synchronization (for a mapping), one beta will reject, one
    # alpha will delete, and one whose delivery failed for good (for a retry).
    accepted = _created(f.alpha.post("/synchronizations/", {"name": "Accepted", **invite}))
    to_reject = _created(f.alpha.post("/synchronizations/", {"name": "To reject", **invite}))
    to_delete = _created(f.alpha.post("/synchronizations/", {"name": "To delete", **invite}))
    for sync_id in (accepted, to_reject, to_delete):
        f.settle(sync_id, "invitation_sent", "invitation_received")
    assert f.beta.post(f"/synchronizations/{accepted}/accept/", {"mode": "show_all"}).status_code == 200
    f.settle(accepted, "not_configured", "not_configured")
    f.proxy.set("answer", times=1, response=http_response(400, "Bad Request"))
    failed = _created(f.alpha.post("/synchronizations/", {"name": "Failed once", **invite}))
    wait_for(lambda: f.alpha.sync(failed)["delivery"]["state"] == "failed", timeout=20, what="a failed delivery")

    gate.shut()
    answers: list[tuple[str, int, float]] = []

    def act(what: str, call: Callable[[], requests.Response]) -> requests.Response:
        t0 = time.monotonic()
        r = call()
        answers.append((what, r.status_code, time.monotonic() - t0))
        return r

    def page_post(api: Api, path: str, data: dict[str, str]) -> requests.Response:
        return api.http.post(api.site.url + path, data=data, timeout=30, allow_redirects=False)

    created = [act(f"API create {i}", lambda i=i: f.alpha.post(  # type: ignore[misc]
        "/synchronizations/", {"name": f"While closed {i}", **invite})) for i in range(5)]
    page = act("page create", lambda: page_post(f.alpha, PAGES + "new/", {
        "name": "While closed (page)", "sync_type": "cloud_to_cloud",
        "partner_address": "https://beta.atlassian.net", "scope_mode": "show_all"}))
    act("API mapping save", lambda: f.alpha.post(f"/synchronizations/{accepted}/mappings/", MAPPING))
    act("API retry", lambda: f.alpha.post(f"/synchronizations/{failed}/retry/"))
    act("page delete", lambda: page_post(f.alpha, PAGES + f"{to_delete}/delete/", {}))
    act("API reject (beta)", lambda: f.beta.post(f"/synchronizations/{to_reject}/reject/"))

    # The truth while the broker is gone: every action answered as done, quickly, and stored.
    for what, status, _ in answers:
        assert status in (200, 201, 302), (what, status)
    slowest = max(seconds for _, _, seconds in answers)
    # Not held on the broker (a publish gives up within seconds: the test below); the bound leaves
    # room for a loaded machine, where any request may take a few seconds.
    assert slowest < 10, answers
    new_ids = [_created(r) for r in created]
    assert page.headers["Location"].endswith(PAGES), page.headers  # back to the list, as when all is well
    page_id = str(f.rows("alpha", "SELECT id FROM synchronizations_synchronization "
                                  "WHERE name = 'While closed (page)'")[0][0])
    assert f.rows("alpha", "SELECT count(*) FROM synchronizations_synchronization WHERE name LIKE 'While closed%%'") \
        == [(6,)]
    pending = f.rows("alpha", "SELECT count(*) FROM invitations_outboxmessage WHERE state = 'pending'")[0][0]
    assert pending >= 9  # 6 invitations, the mapping, the retried invitation, the deletion

    t0 = time.monotonic()
    gate.open()
    for sync_id in [*new_ids, page_id]:
        f.settle(sync_id, "invitation_sent", "invitation_received", timeout=90)
    f.settle(accepted, "active", "active", timeout=60)
    f.settle(failed, "invitation_sent", "invitation_received", timeout=60)
    f.settle(to_delete, "deleted", "deleted", timeout=60)
    f.settle(to_reject, "rejected", "rejected", timeout=60)
    settled = time.monotonic() - t0
    print(f"\nFAULT broker port closed: {len(answers)} actions answered "
          f"{sorted({status for _, status, _ in answers})}, slowest {slowest:.2f}s, "
          f"p50 {sorted(s for _, _, s in answers)[len(answers) // 2]:.2f}s; all delivered {settled:.1f}s "
          f"after the port opened")


PUBLISH = """
import time
import django
django.setup()
from invitations.tasks import deliver_message
t0 = time.monotonic()
try:
    deliver_message.delay("00000000-0000-0000-0000-000000000000")
except Exception as e:
    print(type(e).__name__, round(time.monotonic() - t0, 2))
"""


@pytest.mark.parametrize("broker", ["closed port", "silent"])
def test_a_doorbell_to_a_dead_broker_gives_up_within_seconds(broker: str) -> None:
    # "silent": a broker that accepts connections and never answers (a frozen host, a half-open link).
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    if broker == "silent":
        listener.listen(8)
    else:
        listener.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "PYTEST"))}
    env.update(REDIS_URL=f"redis://127.0.0.1:{port}/0", DJANGO_SETTINGS_MODULE="issuesync.settings",
               SITE_NAME="alpha")
    try:
        r = subprocess.run([sys.executable, "-c", PUBLISH], env=env, cwd=ROOT, capture_output=True, text=True,
                           timeout=60)
    finally:
        listener.close()
    error, seconds = r.stdout.split()[-2:]
    assert error == "OperationalError", r.stdout + r.stderr
    assert float(seconds) < 6, seconds  # at most two attempts of BROKER_SOCKET_TIMEOUT (2 s) each
    print(f"\nFAULT doorbell to a {broker} broker: {error} after {seconds}s")
