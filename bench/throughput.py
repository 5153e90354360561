"""Throughput: N invitations queued on alpha while its worker is stopped, then drained to beta.

    .venv/bin/python -m bench.throughput [--n 5000] [--broker redis|embedded]

Messages/s = N / (last received on beta - worker restart); peak RSS = VmHWM of every process
in both sites' process groups (web, worker, beat and their children).
"""
from __future__ import annotations

import argparse
import time

from bench.common import process_tree_rss, shell_json, two_sites
from sitectl import wait_for

CREATE = """
import json, time
from synchronizations.services import synchronization_create
t = time.monotonic()
for i in range({n}):
    synchronization_create(name=f"T {{i}}", partner_address="https://beta.atlassian.net")
print(json.dumps(time.monotonic() - t))
"""
COUNT = "import json; from invitations.models import InboundMessage as M; print(json.dumps(M.objects.count()))"
LAST = ("import json; from django.db.models import Max; from invitations.models import InboundMessage as M; "
        "print(json.dumps(M.objects.aggregate(m=Max('received_at'))['m'].timestamp()))")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--broker", default="redis", choices=["redis", "embedded"])
    args = ap.parse_args()
    with two_sites(args.broker) as sites:
        alpha = sites["alpha"]
        alpha.stop("worker")
        created = shell_json(alpha, CREATE.format(n=args.n))
        print(f"created {args.n} invitations in {created:.1f}s (worker stopped)")
        started = time.time()
        alpha.start("worker")
        wait_for(lambda: shell_json(sites["beta"], COUNT) >= args.n, timeout=900, interval=2,
                 what="every message received")
        elapsed = shell_json(sites["beta"], LAST) - started
        print(f"throughput, broker={args.broker}: {args.n} messages in {elapsed:.1f}s = "
              f"{args.n / elapsed:.0f} messages/s (including worker start-up)")
        rss = {**process_tree_rss(alpha), **process_tree_rss(sites["beta"])}
        for name, kb in sorted(rss.items()):
            print(f"  {name:50s} {kb / 1024:7.1f} MB peak")
        print(f"  max peak RSS: {max(rss.values()) / 1024:.1f} MB")


if __name__ == "__main__":
    main()
