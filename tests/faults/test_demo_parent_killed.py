"""The process that started the sites dies without stopping them: nothing of the sites may live on.

`python -m sitectl demo` (free ports, its own data directory) is hung up on (a closed terminal) and,
once started again, killed with SIGKILL, which it cannot catch: every process it started must end
within 15 s on its own (each role dies with its parent, and stops its own children).
"""
from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from sitectl import wait_for
from tests.test_demo import Demo, _run_until_healthy, demo  # noqa: F401 - the fixture

pytestmark = pytest.mark.live


def test_the_demo_hung_up_or_killed_leaves_no_process_of_the_sites(demo: Demo, tmp_path: Path) -> None:  # noqa: F811
    _run_until_healthy(demo)
    demo.stop(signal.SIGHUP)  # like Ctrl-C: the demo stops both sites and exits cleanly
    assert demo.proc is not None and demo.proc.returncode == 0
    wait_for(lambda: not demo.processes(), timeout=30, what="every demo process to end after SIGHUP")

    _run_until_healthy(demo)
    started = demo.processes()
    assert len(started) >= 7, f"expected the demo and its 6 site processes, saw {started}"
    t0 = time.monotonic()
    demo.stop(signal.SIGKILL)  # the demo itself dies at once; its sites are on their own
    wait_for(lambda: not demo.processes(), timeout=15, interval=0.1,
             what=f"every site process to end after the demo was killed: {demo.processes()}")
    print(f"\nFAULT demo parent SIGKILLed: {len(started) - 1} site processes all gone "
          f"{time.monotonic() - t0:.1f}s later")
