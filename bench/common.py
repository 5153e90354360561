"""Two real sites for the benchmarks: PostgreSQL + Redis (as in production) or the embedded default."""
from __future__ import annotations

import json
import os
import statistics
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from sitectl import Site, directory_setting, free_port, make_site, stop_all
from tests.live import ARTIFACTS, PG_ADMIN_URL, LiveSites, _pg, template_database

FAST = dict(LOG_LEVEL="WARNING")
EMBEDDED = dict(DELIVERY_SWEEP_INTERVAL_SECONDS="1", WEB_CONCURRENCY="2", WORKER_CONCURRENCY="2", **FAST)


@contextmanager
def two_sites(broker: str, **env: str) -> Iterator[dict[str, Site]]:
    """alpha and beta, live; `env` overrides the sites' settings (e.g. WORKER_POOL)."""
    if broker == "redis":
        print(f"database: {postgres_note()}", flush=True)
        template = template_database(uuid.uuid4().hex[:8])
        sites = LiveSites(template, **{"LOG_LEVEL": "WARNING", **env})  # type: ignore[arg-type]
        try:
            sites.start()
            yield sites.sites
        finally:
            sites.drop()
            _pg(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
        return
    # The embedded default: SQLite database and SQLite broker in each site's VAR_DIR.
    run = uuid.uuid4().hex[:8]
    ports = {n: free_port() for n in ("alpha", "beta")}
    made = {}
    for name, port in ports.items():
        var = ARTIFACTS / "var" / f"bench-{run}" / name
        site = make_site(name, port, directory=directory_setting(ports),
                         log_dir=ARTIFACTS / "logs" / f"bench-{run}" / name,
                         **{"VAR_DIR": str(var), **EMBEDDED, **env})
        site.manage("migrate", "--noinput")
        site.manage("seed_site")
        made[name] = site
    try:
        for s in made.values():
            s.start()
        for s in made.values():
            s.wait_healthy(60)
        yield made
    finally:
        stop_all(list(made.values()))


def postgres_note() -> str:
    """The PostgreSQL server's settings that change what a long run measures: with autovacuum off (as in
    this machine's CI configuration) the tables a run fills are never vacuumed nor analyzed while it runs."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        version, autovacuum = conn.execute(
            "SELECT current_setting('server_version'), current_setting('autovacuum')").fetchone() or ("?", "?")
    return f"PostgreSQL {version.split()[0]}, autovacuum {autovacuum}"


def shell_json(site: Site, code: str) -> Any:
    r = site.manage("shell", "-c", code)
    return json.loads(r.stdout.strip().splitlines()[-1])


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def summary(ms: list[float]) -> str:
    return (f"n={len(ms)} p50={pct(ms, 50):.1f} p95={pct(ms, 95):.1f} p99={pct(ms, 99):.1f} "
            f"max={max(ms):.1f} mean={statistics.mean(ms):.1f} (ms)")


def _processes() -> Iterator[tuple[str, str, list[str]]]:
    """(pid, command name, fields of /proc/<pid>/stat after the command) of every process on the machine."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                head, _, rest = fh.read().rpartition(")")
        except OSError:
            continue
        yield pid, head.partition("(")[2], rest.split()


def _cpu_seconds(fields: list[str]) -> float:
    """User + system CPU time of a process and of its children that ended (and were waited for), from its
    /proc/<pid>/stat fields after the command: a pool child or a database backend that ends during a run
    moves into its parent's count instead of leaving it, so a role's time never goes down."""
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _site_processes(site: Site) -> Iterator[tuple[str, str, list[str]]]:
    """(pid, role, fields of /proc/<pid>/stat after the command) of every process in the site's process groups."""
    groups = {p.pid: role for role, p in site.processes.items()}
    for pid, _, fields in _processes():
        if int(fields[2]) in groups:
            yield pid, groups[int(fields[2])], fields


def group_cpu(group: int) -> float:
    """CPU seconds of every process in a process group (an extra worker and its pool)."""
    return sum(_cpu_seconds(fields) for _, _, fields in _processes() if int(fields[2]) == group)


def process_tree_rss(site: Site) -> dict[str, int]:
    """Peak resident memory (VmHWM, kB) of every process in each of the site's process groups."""
    out: dict[str, int] = {}
    for pid, role, _ in _site_processes(site):
        try:
            with open(f"/proc/{pid}/status") as fh:
                hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM"))
            with open(f"/proc/{pid}/comm") as fh:
                comm = fh.read().strip()
        except (OSError, StopIteration, ValueError, IndexError):
            continue
        out[f"{site.name}/{role}/{comm}[{pid}]"] = hwm
    return out


def named_cpu(*names: str) -> dict[str, float]:
    """CPU seconds (`_cpu_seconds`) of every process on the machine whose name is one of `names`, summed by
    name: the shared servers (PostgreSQL, Redis) that no site's process group holds."""
    out = dict.fromkeys(names, 0.0)
    for _, name, fields in _processes():
        if name in out:
            out[name] += _cpu_seconds(fields)
    return out


def cpu_by_role(sites: dict[str, Site]) -> dict[str, float]:
    """CPU seconds so far of each site's roles (summed over their processes), PostgreSQL, Redis and this
    process (the benchmark's own clients)."""
    roles: dict[str, float] = {}
    for site in sites.values():
        for _, role, fields in _site_processes(site):
            roles[f"{site.name}/{role}"] = roles.get(f"{site.name}/{role}", 0.0) + _cpu_seconds(fields)
    times = os.times()
    return {**roles, **named_cpu("postgres", "redis-server"), "benchmark": times.user + times.system}


def cpu_per(before: dict[str, float], after: dict[str, float], count: int) -> str:
    """Milliseconds of CPU per unit of work between two `cpu_by_role` readings, by role and in all."""
    spent = {role: after[role] - before.get(role, 0.0) for role in after}
    return (", ".join(f"{role} {s / count * 1000:.2f}" for role, s in sorted(spent.items()) if s > 0)
            + f"; all {sum(spent.values()) / count * 1000:.2f} ms")
