"""`make demo`'s own path: `python -m sitectl demo` with nothing running but itself.

Embedded SQLite (WAL) and the embedded sqla broker, free ports and a temporary data directory; the
worker must deliver across processes, SIGTERM must end every process it started, and a second start
must find the data of the first.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sitectl import ROOT, Site, free_port, wait_for
from tests.live import Api

pytestmark = pytest.mark.live

# What the test run itself set (tests/settings.py points at PostgreSQL and Redis): the demo must not see it.
STRIPPED = ("DATABASE_URL", "REDIS_URL", "CELERY_", "SITE_", "VAR_DIR", "DJANGO_", "PYTEST", "DEMO_")


class Demo:
    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.ports = {"alpha": free_port(), "beta": free_port()}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(STRIPPED)}
        self.env.update(DEMO_ALPHA_PORT=str(self.ports["alpha"]), DEMO_BETA_PORT=str(self.ports["beta"]),
                        DEMO_VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1")
        self.proc: subprocess.Popen[bytes] | None = None
        self.seen: set[int] = set()

    def site(self, name: str) -> Site:
        return Site(name=name, port=self.ports[name], env={}, log_dir=self.var_dir / name / "logs")

    def start(self) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.var_dir / "demo.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen([sys.executable, "-m", "sitectl", "demo"], cwd=ROOT, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def healthy(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, f"the demo exited; see {self.var_dir}"
        return all(requests.get(self.site(n).url + "/healthz", timeout=2).status_code == 200 for n in self.ports)

    def processes(self) -> set[int]:
        """Every live process that belongs to this demo: its environment names our data directory."""
        marker = f"DEMO_VAR_DIR={self.var_dir}".encode()
        found = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if marker in environ and state != "Z":
                found.add(int(entry.name))
        return found

    def stop(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.seen |= self.processes()
        self.proc.send_signal(sig)
        self.proc.wait(timeout=60)

    def kill_leftovers(self) -> None:
        for pid in self.processes() | ({self.proc.pid} if self.proc and self.proc.poll() is None else set()):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    d = Demo(tmp_path / "var")
    try:
        yield d
    finally:
        d.kill_leftovers()  # only if the test failed half-way: the test itself asserts nothing is left


def _run_until_healthy(demo: Demo) -> None:
    demo.start()
    wait_for(demo.healthy, timeout=180, interval=0.2, what="both demo sites to answer /healthz")


def _stop_and_check_nothing_is_left(demo: Demo) -> None:
    demo.stop()
    assert demo.proc is not None and demo.proc.returncode == 0
    assert len(demo.seen) >= 7, f"expected the demo and its 6 site processes, saw {demo.seen}"
    wait_for(lambda: not demo.processes(), timeout=30, what="every demo process to end")
    for name in demo.ports:
        with pytest.raises(requests.ConnectionError):
            requests.get(demo.site(name).url + "/healthz", timeout=2)


def test_the_demo_runs_two_sites_that_talk_and_stops_everything(demo: Demo) -> None:
    _run_until_healthy(demo)
    for name in demo.ports:
        r = requests.get(demo.site(name).url + "/healthz", timeout=5).json()
        assert r == {"status": "ok", "database": "ok", "broker": "ok"}
        assert (demo.var_dir / name / "db.sqlite3").exists()  # embedded, not the test run's PostgreSQL
        assert (demo.var_dir / name / "broker.sqlite3").exists()
    key_id = requests.get(demo.site("beta").url + "/.well-known/issue-sync", timeout=5).json()["public_key"]["key_id"]

    alpha, beta = Api(demo.site("alpha")), Api(demo.site("beta"))
    r = alpha.post("/synchronizations/", {"name": "Across processes", "sync_type": "cloud_to_cloud",
                                          "partner_address": "https://beta.atlassian.net",
                                          "scope": {"mode": "show_all"}})
    assert r.status_code == 201, r.text
    sync_id = str(r.json()["id"])
    beta.wait_status(sync_id, "invitation_received", timeout=60)  # alpha's worker delivered it
    _stop_and_check_nothing_is_left(demo)

    # A second start keeps what the first one had: the synchronization and beta's signing key.
    _run_until_healthy(demo)
    assert Api(demo.site("beta")).status_of(sync_id) == "invitation_received"
    assert Api(demo.site("alpha")).status_of(sync_id) == "invitation_sent"
    again = requests.get(demo.site("beta").url + "/.well-known/issue-sync", timeout=5).json()["public_key"]["key_id"]
    assert again == key_id
    _stop_and_check_nothing_is_left(demo)
