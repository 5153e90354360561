"""`make demo-connected`: the demo's own path (embedded SQLite and brokers), with the pair already Active."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sitectl import ROOT, wait_for
from tests.live import Api
from tests.test_demo import Demo

pytestmark = pytest.mark.live


class ConnectedDemo(Demo):
    def start(self) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.var_dir / "demo.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen([sys.executable, "-m", "sitectl", "demo-connected"], cwd=ROOT, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        return (self.var_dir / "demo.log").read_text()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[ConnectedDemo]:
    d = ConnectedDemo(tmp_path / "var")
    try:
        yield d
    finally:
        d.kill_leftovers()


def _active_pairs(demo: ConnectedDemo, name: str) -> list[dict[str, object]]:
    rows = Api(demo.site(name)).get("/synchronizations/").json()["results"]
    return [r for r in rows if r["status"] == "active"]


def test_the_connected_demo_starts_with_an_active_mapped_pair_and_stops_everything(
    demo: ConnectedDemo,
) -> None:
    demo.start()
    wait_for(lambda: "IssueSync demo is running" in demo.log(), timeout=240, interval=0.5,
             what="the connected demo to be running")
    assert demo.proc is not None and demo.proc.poll() is None, demo.log()
    (alpha_pair,) = _active_pairs(demo, "alpha")
    (beta_pair,) = _active_pairs(demo, "beta")
    assert alpha_pair["id"] == beta_pair["id"] and alpha_pair["name"] == "Demo: alpha and beta"
    (mapping,) = Api(demo.site("beta")).get(f"/synchronizations/{beta_pair['id']}/mappings/").json()
    assert (mapping["local_project"], mapping["partner_project"], mapping["enabled"]) == ("BETA", "ALPHA", True)
    assert "Made synchronization “Demo: alpha and beta”" in demo.log()
    demo.stop()
    assert demo.proc.returncode == 0
    wait_for(lambda: not demo.processes(), timeout=30, what="every demo process to end")
    for name in demo.ports:
        with pytest.raises(requests.ConnectionError):
            requests.get(demo.site(name).url + "/healthz", timeout=2)
