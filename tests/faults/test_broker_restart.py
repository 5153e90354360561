"""The broker restarted under live sites: a private redis-server (never the machine's shared one)."""
from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from sitectl import free_port, wait_for
from tests.live import PG_BASE, Api, live_sites

pytestmark = [pytest.mark.live,
              pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")]


class PrivateRedis:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.tmp = tmp
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        # No persistence: a restart loses every queued task, the worst case for delivery.
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.tmp)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._up, timeout=10, what="private redis to answer")

    def _up(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture()
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    r = PrivateRedis(tmp_path)
    r.start()
    try:
        yield r
    finally:
        r.stop()


def test_broker_restart_loses_nothing(pg_template: str, private_redis: PrivateRedis) -> None:
    with live_sites(pg_template, REDIS_URL=private_redis.url) as sites:
        alpha, beta = Api(sites["alpha"]), Api(sites["beta"])
        sites["alpha"].stop("worker")  # the doorbell waits in the broker
        r = alpha.post("/synchronizations/", {"name": "Broker restart", "sync_type": "cloud_to_cloud",
                                              "partner_address": "https://beta.atlassian.net",
                                              "scope": {"mode": "show_all"}})
        assert r.status_code == 201, r.text
        sync_id = str(r.json()["id"])
        t0 = time.monotonic()
        private_redis.stop()   # the broker goes away with the task queued in it...
        private_redis.start()  # ...and comes back empty
        sites["alpha"].start("worker")
        beta.wait_status(sync_id, "invitation_received", timeout=60)
        alpha.wait_status(sync_id, "invitation_sent")
        assert alpha.sync(sync_id)["delivery"]["state"] == "delivered"
        with psycopg.connect(f"{PG_BASE}/{sites.databases['beta']}") as conn:
            applied = conn.execute("SELECT count(*) FROM invitations_inboundmessage "
                                   "WHERE synchronization_id = %s", (sync_id,)).fetchone()
        assert applied == (1,)
        print(f"\nFAULT broker restart: settle={time.monotonic() - t0:.2f}s")
