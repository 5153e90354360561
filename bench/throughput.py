"""Throughput: N invitations queued on alpha while its worker is stopped, then drained to beta.

    .venv/bin/python -m bench.throughput [--n 5000] [--broker redis|embedded]
        [--pool prefork|threads] [--concurrency N] [--workers N] [--no-floor]

Sustained rate = messages applied on beta per second from the first to the last one applied
(InboundMessage.received_at); the rate including worker start-up is printed too. Peak RSS =
VmHWM of every process in both sites' process groups (web, worker, beat and their children); CPU
per message = each role's processes' CPU time during the drain divided by N (PostgreSQL and
Redis are not counted).
--pool and --concurrency set alpha's and beta's workers (WORKER_POOL, WORKER_CONCURRENCY); the
defaults are docker-compose.yml's. --workers starts that many workers per site (scale-out, as the
compose file's `--scale worker=N`). The floor (bench/floor.py, the bare hop) is measured first, in
the same run, and the rate is printed beside it and as a ratio to it.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from bench import floor
from bench.common import cpu_by_role, cpu_per, group_cpu, process_tree_rss, shell_json, two_sites
from bench.profile import profiles_print, spies_start, spies_stop
from sitectl import ENTRYPOINT, ROOT, Site, processes_stop, wait_for

CREATE = """
import json, time
from synchronizations.services import synchronization_create
t = time.monotonic()
for i in range({n}):
    synchronization_create(name=f"T {{i}}", partner_address="https://beta.atlassian.net")
print(json.dumps(time.monotonic() - t))
"""
COUNT = "import json; from invitations.models import InboundMessage as M; print(json.dumps(M.objects.count()))"
SPAN = ("import json; from django.db.models import Max, Min; from invitations.models import InboundMessage as M; "
        "r = M.objects.aggregate(a=Min('received_at'), b=Max('received_at')); "
        "print(json.dumps([r['a'].timestamp(), r['b'].timestamp()]))")
ATTEMPTS = ("import json; from django.db.models import Count, Sum; from invitations.models import OutboxMessage as M; "
            "print(json.dumps(M.objects.aggregate(n=Count('id'), a=Sum('attempts'))))")


def _more_workers(site: Site, count: int) -> list[subprocess.Popen[bytes]]:
    """`count` more workers of the site, on its queue: what `--scale worker=N` starts."""
    log = open(site.log_dir / "more-workers.log", "ab")  # noqa: SIM115 - lives as long as the workers
    return [subprocess.Popen([str(ENTRYPOINT), "worker"], env=site.env, cwd=ROOT, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True) for _ in range(count)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--broker", default="redis", choices=["redis", "embedded"])
    ap.add_argument("--pool", choices=["prefork", "threads"], default="threads")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--create-shells", type=int, default=4, help="processes creating the invitations at once")
    ap.add_argument("--workers", type=int, default=1, help="workers per site (scale-out)")
    ap.add_argument("--no-floor", action="store_true", help="skip measuring the bare hop first")
    ap.add_argument("--profile", metavar="DIR",
                    help="sample alpha's worker and beta's web with py-spy during the drain")
    args = ap.parse_args()
    env = {"WORKER_POOL": args.pool, "WORKER_CONCURRENCY": str(args.concurrency)}
    base = None
    if not args.no_floor:
        base = floor.measure(n=20, throughput=min(args.n, 2000)).rate
        print(f"floor (bare hop) sustained: {base:.0f} messages/s; load average {os.getloadavg()[0]:.2f}")
    more: list[subprocess.Popen[bytes]] = []
    with two_sites(args.broker, **env) as sites:
        alpha = sites["alpha"]
        alpha.stop("worker")
        # Creating them is not measured: it only fills the outbox, so several shells share the work.
        t = time.monotonic()
        shares = [args.n // args.create_shells + (i < args.n % args.create_shells) for i in range(args.create_shells)]
        with ThreadPoolExecutor(len(shares)) as pool:
            list(pool.map(lambda k: shell_json(alpha, CREATE.format(n=k)), shares))
        print(f"created {args.n} invitations in {time.monotonic() - t:.1f}s (worker stopped)")
        cpu_before = cpu_by_role(sites)
        started = time.time()
        alpha.start("worker")
        spies = spies_start(sites, args.profile) if args.profile else []
        try:
            more = _more_workers(alpha, args.workers - 1) + _more_workers(sites["beta"], args.workers - 1)
            wait_for(lambda: shell_json(sites["beta"], COUNT) >= args.n, timeout=900, interval=2,
                     what="every message received")
        finally:
            cpu_more = sum(group_cpu(p.pid) for p in more)
            processes_stop(more, timeout=20)
            spies_stop(spies)
        cpu_after = {**cpu_by_role(sites), **({"more workers": cpu_more} if more else {})}
        first, last = shell_json(sites["beta"], SPAN)
        attempts = shell_json(alpha, ATTEMPTS)
        workers = f"pool={args.pool} concurrency={args.concurrency} workers per site={args.workers}"
        print(f"throughput, broker={args.broker}, {workers}: {args.n} messages; "
              f"load average {os.getloadavg()[0]:.2f}")
        rate = (args.n - 1) / (last - first)
        print(f"  sustained: first to last applied {last - first:.1f}s = {rate:.0f} messages/s")
        if base is not None:
            print("  " + floor.beside("sustained", rate, base, "messages/s"))
        print(f"  including worker start-up: {last - started:.1f}s = {args.n / (last - started):.0f} messages/s "
              f"(first applied {first - started:.1f}s after the worker was started)")
        print(f"  delivery attempts: {attempts['a']} for {attempts['n']} messages")
        # The drain's CPU per message, by role (the polling shells above are not in these groups).
        print(f"  CPU per message during the drain: {cpu_per(cpu_before, cpu_after, args.n)}")
        rss = {**process_tree_rss(alpha), **process_tree_rss(sites["beta"])}
        for name, kb in sorted(rss.items()):
            print(f"  {name:50s} {kb / 1024:7.1f} MB peak")
        print(f"  max peak RSS: {max(rss.values()) / 1024:.1f} MB")
    if args.profile:
        profiles_print(args.profile)


if __name__ == "__main__":
    main()
