"""py-spy on the live sites' processes during a benchmark (`--profile DIR`), and where the busy samples are.

With BENCH_PROFILE_GIL=1 in the environment, py-spy samples only the thread holding the GIL (`--gil`):
Python's own CPU time, without the waits on a socket or a lock that the busy samples may count.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess

from sitectl import ROOT, Site, wait_for

FRAME = re.compile(r"^[^\n]+ \([^()\n]*:\d+\)$")
OURS = ("invitations/", "synchronizations/", "mappings/", "jira/", "replication/")  # totals: the product's frames
STARTUP = "_find_and_load ("  # importing modules: the worker starting, not delivering


SPIED = (("alpha", "worker"), ("beta", "web"))  # where a message's work is: alpha's worker sends, beta's web applies
PROGRAMS = {"worker": "celery", "web": "gunicorn"}


def spies_start(sites: dict[str, Site], out: str,
                spied: tuple[tuple[str, str], ...] = SPIED) -> list[subprocess.Popen[bytes]]:
    """py-spy on each (site, role) of `spied` (alpha's worker and its thread pool, beta's web and its gunicorn
    workers by default), raw stacks to `out/site-role.txt`."""
    os.makedirs(out, exist_ok=True)
    spy = str(ROOT / ".venv" / "bin" / "py-spy")

    def started(pid: int, program: str) -> bool:  # bin/site's lifeline has exec'd into the role's program
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return program.encode() in fh.read()

    for site, role in spied:
        wait_for(lambda: started(sites[site].processes[role].pid, PROGRAMS[role]), timeout=30,  # noqa: B023
                 what=f"{site}'s {role} to start")
    return [subprocess.Popen([spy, "record", "--pid", str(sites[site].processes[role].pid), "--subprocesses",
                              "--nonblocking", "--rate", "200", "--format", "raw",
                              *(["--gil"] if os.environ.get("BENCH_PROFILE_GIL") == "1" else []),
                              "--output", f"{out}/{site}-{role}.txt"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for site, role in spied]


def spies_stop(spies: list[subprocess.Popen[bytes]]) -> None:
    """End each py-spy by its process (SIGINT makes it write its file), and wait for it."""
    for spy in spies:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)


def profiles_print(out: str, spied: tuple[tuple[str, str], ...] = SPIED) -> None:
    """The summary of what `spies_start` recorded into `out`."""
    for site, role in spied:
        _profile_summary(f"{out}/{site}-{role}.txt", f"{site}-{role}")


def _profile_summary(path: str, name: str, top: int = 25) -> None:
    """Where the busy samples are: by innermost function (self) and by any frame on the stack (total)."""
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    samples = 0
    idle = ("wait (threading", "select (selectors", "poll (selectors", "_wait_for_tstate_lock", "sleep (",
            "accept (socket", "recv_into (socket", "readinto (socket",
            "_worker (concurrent/futures/thread.py:81)", "_epoll.poll (", "EpollSelector.select (",
            "Arbiter.wait_for_signals (")
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError:
        print(f"  no profile at {path}")
        return
    # One record per stack, "frame;frame;... count"; a process's command line may span lines.
    for record in re.split(r"(?<=\s\d)\n|(?<=\d\d)\n", text):
        stack, _, count = record.rpartition(" ")
        if not count.strip().isdigit():
            continue
        frames = [f for f in stack.split(";") if FRAME.match(f)]  # the process's own line is not a frame
        if not frames or any(frames[-1].startswith(i) for i in idle) or any(f.startswith(STARTUP) for f in frames):
            continue
        n = int(count)
        samples += n
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            if any(f"({where}" in frame for where in OURS):
                total[frame] = total.get(frame, 0) + n
    print(f"profile {name}: {samples} busy samples (idle waits and module imports left out)")
    for label, table in (("self (innermost frame)", own), ("total (the product's frames)", total)):
        print(f"  by {label}:")
        for frame, n in sorted(table.items(), key=lambda kv: -kv[1])[:top]:
            print(f"    {n / max(samples, 1) * 100:5.1f}%  {frame[:150]}")
