"""Faults between two live sites: after each, both sides settle, every message applied exactly once.

alpha reaches beta only through the proxy; the proxy's faults hit alpha's deliveries to beta.
Each case prints one line (attempts, seconds to settle) that docs/reliability.md reports.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest
import redis
import requests

from sitectl import wait_for
from tests.faults.conftest import Faulty
from tests.faults.proxy import http_response
from tests.live import REDIS_URL

pytestmark = pytest.mark.live

SEND = """
import sys, threading, requests
from invitations import signing
from invitations.messages import INBOX_PATH
from invitations.models import OutboxMessage
m = OutboxMessage.objects.get(pk="{id}")
body = bytes(m.body)
out = []
def send():
    h = signing.sign("POST", m.recipient + INBOX_PATH, body, {{"Content-Type": "application/json"}})
    out.append(requests.post("{url}" + INBOX_PATH, data=body, headers=h, timeout=10).status_code)
ts = [threading.Thread(target=send) for _ in range({n})]
[t.start() for t in ts]
[t.join() for t in ts]
print(" ".join(map(str, sorted(out))))
"""


def send_direct(f: Faulty, outbox_id: str, n: int = 1) -> list[int]:
    """Sign alpha's stored message and post it straight to beta's inbox, n times at once."""
    r = f.sites["alpha"].manage("shell", "-c", SEND.format(id=outbox_id, url=f.sites["beta"].url, n=n))
    return [int(x) for x in r.stdout.strip().splitlines()[-1].split()]


def report(case: str, attempts: dict[str, int], started: float) -> None:
    print(f"\nFAULT {case}: attempts={attempts} settle={time.monotonic() - started:.2f}s")


def _attempts(f: Faulty, sync_id: str) -> int:
    return sum(r[3] for r in f.outbox("alpha", sync_id))


def test_partner_down_then_back(f: Faulty) -> None:
    f.proxy.set("down")
    t0 = time.monotonic()
    sync_id = f.invite("Down then back")
    wait_for(lambda: _attempts(f, sync_id) >= 3, timeout=20, what="three failed attempts")
    assert f.beta.status_of(sync_id) is None
    f.proxy.set("pass")
    a = f.settle(sync_id, "invitation_sent", "invitation_received")
    assert a["alpha"] >= 4
    report("down", a, t0)


def test_partner_answers_503_for_a_while(f: Faulty) -> None:
    f.proxy.set("answer", times=3, response=http_response(503, "Service Unavailable"))
    t0 = time.monotonic()
    sync_id = f.invite("503 for a while")
    a = f.settle(sync_id, "invitation_sent", "invitation_received")
    assert a["alpha"] == 4
    report("503x3", a, t0)


def test_partner_switched_off_answers_503(f: Faulty) -> None:
    sync_id = f.invite("Switched off")
    f.settle(sync_id, "invitation_sent", "invitation_received")
    off = "from jira.models import SiteConfiguration as C; c = C.load(); c.issue_sync_active = {}; c.save()"
    f.sites["beta"].manage("shell", "-c", off.format(False))
    try:
        t0 = time.monotonic()
        assert f.alpha.post(f"/synchronizations/{sync_id}/delete/").status_code == 200
        wait_for(lambda: _attempts(f, sync_id) >= 3, timeout=20, what="refused attempts while switched off")
        assert f.beta.status_of(sync_id) == "invitation_received"
    finally:
        f.sites["beta"].manage("shell", "-c", off.format(True))
    a = f.settle(sync_id, "deleted", "deleted")
    report("switched-off-503", a, t0)


def test_partner_answers_429_with_retry_after(f: Faulty) -> None:
    f.proxy.set("answer", times=1, response=http_response(429, "Too Many Requests", {"Retry-After": "1.5"}))
    t0 = time.monotonic()
    sync_id = f.invite("429")
    a = f.settle(sync_id, "invitation_sent", "invitation_received")
    # The sender waited at least what the partner asked before trying again.
    assert time.monotonic() - t0 >= 1.5
    assert a["alpha"] == 2
    report("429 Retry-After 1.5", a, t0)


def test_partner_slower_than_the_read_timeout(f: Faulty) -> None:
    f.proxy.set("delay", times=1, delay=2.5)  # the sites' OUTGOING_READ_TIMEOUT is 1 s
    t0 = time.monotonic()
    sync_id = f.invite("Slow")
    a = f.settle(sync_id, "invitation_sent", "invitation_received")
    assert a["alpha"] >= 2  # the partner applied the first; the retry was acknowledged as duplicate
    report("slow 2.5s > timeout 1s", a, t0)


def test_response_lost_after_the_partner_committed(f: Faulty) -> None:
    f.proxy.set("cut", times=1)
    t0 = time.monotonic()
    sync_id = f.invite("Cut")
    a = f.settle(sync_id, "invitation_sent", "invitation_received")
    assert a["alpha"] == 2
    report("response cut", a, t0)


def test_worker_killed_mid_delivery(f: Faulty) -> None:
    alpha = f.sites["alpha"]
    f.proxy.set("delay", times=1, delay=3)
    t0 = time.monotonic()
    sync_id = f.invite("Killed worker")
    wait_for(lambda: [r[2] for r in f.outbox("alpha", sync_id)] == ["delivering"], timeout=10,
             what="the delivery to be in flight")
    os.killpg(alpha.processes["worker"].pid, signal.SIGKILL)
    alpha.processes["worker"].wait(timeout=10)
    alpha.start("worker")
    a = f.settle(sync_id, "invitation_sent", "invitation_received", timeout=40)
    assert a["alpha"] >= 2  # the lease expired and another attempt was made
    report("worker SIGKILL", a, t0)


def test_queued_task_lost_the_sweep_delivers(f: Faulty) -> None:
    alpha = f.sites["alpha"]
    alpha.stop("worker")
    t0 = time.monotonic()
    sync_id = f.invite("Lost task")
    queue = alpha.env["CELERY_QUEUE"]
    r = redis.Redis.from_url(REDIS_URL)
    wait_for(lambda: r.llen(queue) > 0, timeout=10, what="the doorbell to be queued")
    assert r.delete(queue) == 1  # the broker lost every queued task
    alpha.start("worker")
    a = f.settle(sync_id, "invitation_sent", "invitation_received")
    report("queued task lost", a, t0)


def test_same_message_twice_at_once(f: Faulty) -> None:
    f.proxy.set("answer", response=http_response(503, "Service Unavailable"))
    t0 = time.monotonic()
    sync_id = f.invite("Twice")
    wait_for(lambda: _attempts(f, sync_id) >= 1, timeout=10, what="a first attempt")
    outbox_id = str(f.outbox("alpha", sync_id)[0][0])
    codes = send_direct(f, outbox_id, n=2)
    assert all(c in (200, 409) for c in codes) and 200 in codes, codes
    f.proxy.set("pass")
    a = f.settle(sync_id, "invitation_sent", "invitation_received")
    report(f"twice at once {codes}", a, t0)


def test_out_of_order_messages_wait_for_the_earlier_one(f: Faulty) -> None:
    sync_id = f.invite("Out of order")
    f.beta.wait_status(sync_id, "invitation_received")
    assert f.beta.post(f"/synchronizations/{sync_id}/accept/", {"mode": "show_all"}).status_code == 200
    f.settle(sync_id, "not_configured", "not_configured")
    f.proxy.set("answer", response=http_response(503, "Service Unavailable"))
    t0 = time.monotonic()
    assert f.alpha.post(f"/synchronizations/{sync_id}/scope/", {"mode": "show_only_selected",
                                                                "projects": ["ALPHA"]}).status_code == 200
    assert f.alpha.post(f"/synchronizations/{sync_id}/delete/").status_code == 200
    rows = f.outbox("alpha", sync_id)
    later = str(rows[-1][0])
    assert send_direct(f, later) == [425]  # #3 before #2: refused as "too early", retryable
    assert f.beta.status_of(sync_id) == "not_configured"
    f.proxy.set("pass")
    a = f.settle(sync_id, "deleted", "deleted")
    report("out of order", a, t0)


def _together(*calls: Any) -> list[requests.Response]:
    out: list[Any] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i: int) -> None:
        barrier.wait()
        out[i] = calls[i]()
    ts = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def _received(f: Faulty, name: str) -> str:
    sync_id = f.invite(name)
    f.settle(sync_id, "invitation_sent", "invitation_received")
    return sync_id


def test_accept_racing_delete(f: Faulty) -> None:
    sync_id = _received(f, "Accept vs delete")
    t0 = time.monotonic()
    _together(lambda: f.beta.post(f"/synchronizations/{sync_id}/accept/", {"mode": "show_all"}),
              lambda: f.alpha.post(f"/synchronizations/{sync_id}/delete/"))
    a = f.settle(sync_id, "deleted", "deleted")
    report("accept racing delete", a, t0)


def test_both_sides_delete_at_once(f: Faulty) -> None:
    sync_id = _received(f, "Both delete")
    f.beta.post(f"/synchronizations/{sync_id}/accept/", {"mode": "show_all"})
    f.settle(sync_id, "not_configured", "not_configured")
    t0 = time.monotonic()
    # "At once" means each side deletes before it hears of the other's delete. Holding alpha's
    # message in the proxy makes that certain: alpha deletes, beta deletes (not knowing), and beta's
    # message reaches an alpha that already deleted; then alpha's reaches a beta that already did.
    f.proxy.set("down")
    codes = [f.alpha.post(f"/synchronizations/{sync_id}/delete/").status_code,
             f.beta.post(f"/synchronizations/{sync_id}/delete/").status_code]
    assert codes == [200, 200]
    f.proxy.set("pass")
    a = f.settle(sync_id, "deleted", "deleted")
    report("both delete", a, t0)


def test_accept_double_clicked(f: Faulty) -> None:
    sync_id = _received(f, "Double click")
    t0 = time.monotonic()
    codes = sorted(r.status_code for r in _together(
        *[lambda: f.beta.post(f"/synchronizations/{sync_id}/accept/", {"mode": "show_all"})] * 2))
    assert codes == [200, 409]
    a = f.settle(sync_id, "not_configured", "not_configured")
    assert a["beta"] == 1  # one acceptance sent
    report("accept double-clicked", a, t0)


def test_fifty_admins_invite_at_the_same_moment(f: Faulty) -> None:
    def one(i: int) -> requests.Response:
        s = requests.Session()  # one connection each, the login shared: fifty browsers
        s.cookies.update(f.alpha.http.cookies)
        s.headers.update(f.alpha.http.headers)
        return s.post(f.sites["alpha"].url + "/api/synchronizations/", timeout=60, json={
            "name": f"Burst {i}", "sync_type": "cloud_to_cloud",
            "partner_address": "https://beta.atlassian.net", "scope": {"mode": "show_all"}})
    t0 = time.monotonic()
    responses = _together(*[lambda i=i: one(i) for i in range(50)])
    assert [r.status_code for r in responses] == [201] * 50, [r.text for r in responses if r.status_code != 201]
    ids = [str(r.json()["id"]) for r in responses]
    total = 0
    for sync_id in ids:
        total += f.settle(sync_id, "invitation_sent", "invitation_received", timeout=60)["alpha"]
    assert total >= 50
    report("50 admins at once", {"alpha": total}, t0)
