"""Start and stop whole sites (web, worker, beat) as real processes.

`make demo`, the live tests and the benchmarks all use this, and every
process goes through `bin/site`, the entrypoint docker-compose.yml runs too.
Each process gets its own process group, so that whatever a role leaves behind can be ended with
it, and dies with the process that started it (bin/site), so that a starter killed without
stopping them leaves nothing behind.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "bin" / "site"
ROLES = ("web", "worker", "beat")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], object], *, timeout: float, interval: float = 0.05, what: str = "") -> object:
    """Poll until `condition()` is truthy; raise TimeoutError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
            if result:
                return result
        except Exception:  # noqa: BLE001 - a condition may fail until it holds
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


@dataclass
class Site:
    name: str
    port: int
    env: dict[str, str]
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"https://{self.name}.atlassian.net"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.env["PYTHON"], str(ROOT / "manage.py"), *args], env=self.env, cwd=ROOT,
                              check=check, capture_output=True, text=True)

    def prepare(self) -> None:
        prepare_all([self])

    def start(self, *roles: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for role in roles or ROLES:
            if role in self.processes and self.processes[role].poll() is None:
                continue
            log = open(self.log_dir / f"{role}.log", "ab")  # noqa: SIM115 - lives as long as the process
            self.processes[role] = subprocess.Popen(
                [str(ENTRYPOINT), role], env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self, *roles: str, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        stop_all([self], *roles, sig=sig, timeout=timeout)

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            web = self.processes.get("web")
            if web is not None and web.poll() is not None:
                raise RuntimeError(f"{self.name} web exited; see {self.log_dir / 'web.log'}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} was not healthy within {timeout}s; see {self.log_dir}")
            time.sleep(0.1)


def prepare_all(sites: list[Site]) -> None:
    """Migrate and seed the sites side by side (each its own process and database)."""
    side_by_side(sites, lambda site: [str(ENTRYPOINT), "prepare"], log="prepare.log")


def side_by_side(sites: list[Site], command: Callable[[Site], list[str]], *, log: str,
                 timeout: float | None = None) -> None:
    """Run each site's `command` in its environment, all at once, output to `log` in the site's log directory;
    raise CalledProcessError for the first that failed, once all have ended. With `timeout` (seconds, from the
    start), a command still running then is killed, and TimeoutExpired raised."""
    procs = []
    for site in sites:
        site.log_dir.mkdir(parents=True, exist_ok=True)
        with open(site.log_dir / log, "ab") as out:  # the child writes to its own copy of the file
            procs.append((site, subprocess.Popen(command(site), env=site.env, cwd=ROOT, stdout=out,
                                                 stderr=subprocess.STDOUT)))
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        codes = [(site, proc.wait(None if deadline is None else max(0.0, deadline - time.monotonic())))
                 for site, proc in procs]
    except subprocess.TimeoutExpired:
        for _, proc in procs:
            proc.kill()
            proc.wait()
        raise
    for site, code in codes:
        if code:
            raise subprocess.CalledProcessError(code, [*command(site), f"({site.name}: see {site.log_dir / log})"])


def stop_all(sites: list[Site], *roles: str, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    """Signal every process of every site first, then wait: the sites shut down side by side.

    Only each role's main process is signalled (gunicorn's master, Celery's main process): it stops
    its own children in order. Signalled directly, a Celery worker's pool children die under their
    parent, which was seen to hang in its shutdown. SIGKILL goes to the whole group at once.
    A process still running at the deadline is killed with its group: the outbox is the truth and tasks
    are acknowledged late, so whatever it was doing is simply done again after the next start.
    """
    targets = [(site, role) for site in sites for role in (roles or tuple(site.processes)) if role in site.processes]
    processes_stop([site.processes.pop(role) for site, role in targets], sig=sig, timeout=timeout)


def processes_stop(procs: list[subprocess.Popen[bytes]], *, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    """Stop processes started with `start_new_session`, as `stop_all` stops a site's (its rules)."""
    for proc in procs:
        if sig == signal.SIGKILL:
            _signal_group(proc, sig)
        else:
            proc.send_signal(sig)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=5)
        _signal_group(proc, signal.SIGKILL)  # any child left behind in the group


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def directory_setting(ports: dict[str, int]) -> str:
    return ",".join(f"{name}.atlassian.net=http://127.0.0.1:{port}" for name, port in ports.items())


def make_site(name: str, port: int, *, directory: str, log_dir: Path, python: str = sys.executable,
              **env: str) -> Site:
    """A site's environment: the caller decides database, broker and queue through `env`."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "PYTEST"))}
    full.update(
        PYTHON=python,
        SITE_NAME=name,
        SITE_DIRECTORY=directory,
        BIND=f"127.0.0.1:{port}",
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="issuesync.settings",
    )
    full.update(env)
    return Site(name=name, port=port, env=full, log_dir=log_dir)
