"""Round trip: an invitation committed on alpha -> applied on beta, one admin action after another.

    .venv/bin/python -m bench.roundtrip [--n 200] [--broker redis|embedded] [--no-floor] [--gap SECONDS]

Latency = beta's InboundMessage.received_at - alpha's OutboxMessage.created_at (both written in
their site's transaction, same machine clock). The floor (bench/floor.py, the bare hop) is
measured first, in the same run, and every figure is printed beside it and as a ratio to it.
`--gap` waits that long between two invitations (default 0: back to back, so that a slow site shows
as a queue); with a gap, each message travels alone.
"""
from __future__ import annotations

import argparse
import os
import time

from bench import floor
from bench.common import pct, shell_json, summary, two_sites
from sitectl import wait_for
from tests.live import Api

ROWS = ("import json; from invitations.models import {model} as M; "
        "print(json.dumps({{str(i): t.timestamp() for i, t in M.objects.values_list('id', '{field}')}}))")

PROFILE = """
import json, time
from invitations.discovery import partner_discover
t = []
for _ in range(30):
    s = time.perf_counter(); partner_discover("https://alpha.atlassian.net"); t.append((time.perf_counter() - s) * 1000)
print(json.dumps({"discover": t}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--broker", default="redis", choices=["redis", "embedded"])
    ap.add_argument("--no-floor", action="store_true", help="skip measuring the bare hop first")
    ap.add_argument("--gap", type=float, default=0.0, help="seconds between two invitations (default: back to back)")
    args = ap.parse_args()
    base = None
    if not args.no_floor:
        base = floor.measure(n=args.n, throughput=0).roundtrip_ms
        print(f"floor round trip (bare hop): {summary(base)}; load average {os.getloadavg()[0]:.2f}")
    with two_sites(args.broker) as sites:
        alpha, beta = Api(sites["alpha"]), Api(sites["beta"])
        ids = []
        for i in range(args.n):
            r = alpha.post("/synchronizations/", {"name": f"RT {i}", "sync_type": "cloud_to_cloud",
                                                  "partner_address": "https://beta.atlassian.net",
                                                  "scope": {"mode": "show_all"}})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
            if args.gap:
                time.sleep(args.gap)
        wait_for(lambda: beta.get("/synchronizations/?limit=1").json()["count"] >= args.n, timeout=120,
                 interval=0.5, what="all invitations received")
        sent = shell_json(sites["alpha"], ROWS.format(model="OutboxMessage", field="created_at"))
        got = shell_json(sites["beta"], ROWS.format(model="InboundMessage", field="received_at"))
        done = shell_json(sites["alpha"], ROWS.format(model="OutboxMessage", field="delivered_at"))
        ms = [(got[k] - sent[k]) * 1000 for k in sent]
        gap = f", {args.gap:g} s apart" if args.gap else ""
        print(f"round trip, broker={args.broker}{gap}: {summary(ms)}; load average {os.getloadavg()[0]:.2f}")
        if base is not None:
            for p in (50, 95, 99):
                print("  " + floor.beside(f"p{p}", pct(ms, p), pct(base, p), "ms"))
        # Where the time goes: after beta recorded it, until alpha saw the answer and marked it delivered.
        print(f"  of which beta commit + answer + alpha marks delivered: "
              f"{summary([(done[k] - got[k]) * 1000 for k in sent])}")
        # Time spent inside beta's inbox request (discovery call back to alpha, verify, apply).
        timing = shell_json(sites["beta"], PROFILE)
        print(f"  beta calling alpha's discovery (once per new invitation): {summary(timing['discover'])}")


if __name__ == "__main__":
    main()
