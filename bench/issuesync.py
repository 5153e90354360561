"""Issue sync latency: edits made on alpha through Jira's REST API, applied on beta by issue sync.

    .venv/bin/python -m bench.issuesync [--edits 1000] [--issues 50] [--clients 4] [--broker redis|embedded]
        [--rate EDITS_PER_S] [--profile DIR]

Two live sites with one Active synchronization mapping ALPHA and BETA bugs (summary both ways).
`--issues` issues are created on alpha and copied to beta first (not measured); then `--edits`
summary edits are made on alpha by `--clients` concurrent API clients, as fast as the API answers
(with `--rate`, edit n starts n/rate seconds after the first instead, as long as a client is free: the
pipeline's time at a load that leaves the machine headroom).
Commit -> applied = the time beta's changelog records the applied value minus the time alpha's
changelog recorded the edit (one machine, one clock). Peak RSS = VmHWM of every process of both sites.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from bench.common import cpu_by_role, cpu_per, pct, process_tree_rss, shell_json, summary, two_sites
from bench.profile import profiles_print, spies_start, spies_stop
from sitectl import Site, wait_for
from tests.live import Api, synchronization_accepted

SUMMARIES = """
import datetime, json
from jira.models import Changelog
rows = Changelog.objects.filter(created__gte=datetime.datetime.fromtimestamp({since}, datetime.UTC))
out = {{}}
for created, items in rows.values_list("created", "items"):
    for item in items:
        if item.get("fieldId") == "summary" and (item.get("toString") or "").startswith("Edit "):
            out[item["toString"]] = created.timestamp()
print(json.dumps(out))
"""
# Each issue_state message alpha wrote in the run: its id, the summary it carries, when it was written,
# how many times it was sent, when beta's answer was recorded; and when beta applied each (its inbox's record).
WRITTEN = """
import datetime, json
from invitations.models import OutboxMessage
rows = OutboxMessage.objects.filter(message_type="issue_state",
                                    created_at__gte=datetime.datetime.fromtimestamp({since}, datetime.UTC))
out = {{}}
for pk, body, created, attempts, done in rows.values_list("pk", "body", "created_at", "attempts", "delivered_at"):
    summary = json.loads(bytes(body))["payload"].get("values", {{}}).get("summary", {{}}).get("v")
    out[str(pk)] = [summary, created.timestamp(), attempts, done and done.timestamp()]
print(json.dumps(out))
"""
APPLIED = """
import datetime, json
from invitations.models import InboundMessage
rows = InboundMessage.objects.filter(message_type="issue_state",
                                     received_at__gte=datetime.datetime.fromtimestamp({since}, datetime.UTC))
print(json.dumps({{str(pk): t.timestamp() for pk, t in rows.values_list("pk", "received_at")}}))
"""
COPIES = ("import json; from replication.models import IssueLink; "
          "print(json.dumps(IssueLink.objects.exclude(partner_key='').count()))")


def _active(alpha: Site, beta: Site) -> str:
    a, b = Api(alpha), Api(beta)
    sync_id = synchronization_accepted(a, b, "Bench", timeout=60)
    r = a.post(f"/synchronizations/{sync_id}/mappings/", {
        "name": "Bugs", "local_project": "ALPHA", "partner_project": "BETA",
        "issue_types": [{"local": "Bug", "partner": "Bug"}],
        "field_pairs": [{"local": "summary", "partner": "summary", "direction": "both"}],
        "value_maps": {}, "comments": "off", "filter": "", "enabled": True})
    assert r.status_code == 201, r.text
    b.wait_status(sync_id, "active", timeout=60)
    return sync_id


def _rest(site: Site) -> requests.Session:
    token = site.manage("api_token", "admin").stdout.strip().split()[-1]
    s = requests.Session()
    s.auth = ("admin@example.com", token)
    return s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--edits", type=int, default=1000)
    ap.add_argument("--issues", type=int, default=50)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--broker", default="redis", choices=["redis", "embedded"])
    ap.add_argument("--rate", type=float, default=0,
                    help="edits started per second (default: as fast as the API answers)")
    ap.add_argument("--profile", metavar="DIR",
                    help="py-spy on alpha's web (the edits), alpha's worker and beta's web during the edits")
    args = ap.parse_args()
    spied = (("alpha", "web"), ("alpha", "worker"), ("beta", "web"))
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with two_sites(args.broker) as sites:
        alpha, beta = sites["alpha"], sites["beta"]
        _active(alpha, beta)
        rest = _rest(alpha)
        r = rest.post(f"{alpha.url}/rest/api/3/issue/bulk", json={"issueUpdates": [
            {"fields": {"project": {"key": "ALPHA"}, "issuetype": {"name": "Bug"}, "summary": f"Bench {n}"}}
            for n in range(args.issues)]}, timeout=120)
        keys = [i["key"] for i in r.json()["issues"]]
        wait_for(lambda: shell_json(alpha, COPIES) >= args.issues, timeout=300, interval=1,
                 what="every issue copied and linked")
        since = time.time()

        def edit(n: int) -> float:
            if args.rate:
                time.sleep(max(0.0, t0 + n / args.rate - time.monotonic()))
            t = time.monotonic()
            r = rest.put(f"{alpha.url}/rest/api/3/issue/{keys[n % len(keys)]}",
                         json={"fields": {"summary": f"Edit {n}"}}, timeout=60)
            assert r.status_code == 204, r.text
            return (time.monotonic() - t) * 1000

        spies = spies_start(sites, args.profile, spied) if args.profile else []
        cpu_before = cpu_by_role(sites)
        t0 = time.monotonic()
        with ThreadPoolExecutor(args.clients) as pool:
            api_ms = list(pool.map(edit, range(args.edits)))
        made_s = time.monotonic() - t0
        # The last edit of every issue must arrive; earlier ones may be superseded by a later one in the
        # same message (only the latest value travels), so latency is measured on those that arrived.
        last = {f"Edit {n}" for n in range(args.edits - len(keys), args.edits)}
        wait_for(lambda: last <= set(shell_json(beta, SUMMARIES.format(since=since))), timeout=600, interval=1,
                 what="the latest edit of every issue applied on beta")
        cpu_after = cpu_by_role(sites)
        spies_stop(spies)
        sent: dict[str, Any] = shell_json(alpha, SUMMARIES.format(since=since))
        applied: dict[str, Any] = shell_json(beta, SUMMARIES.format(since=since))
        lat = [(applied[v] - sent[v]) * 1000 for v in sent if v in applied]
        pace = f" at {args.rate:g} a second" if args.rate else ""
        print(f"issue sync, broker={args.broker}: {args.edits} edits of {len(keys)} issues by {args.clients} "
              f"clients{pace} in {made_s:.1f}s ({args.edits / made_s:.0f} edits/s); API PUT: {summary(api_ms)}")
        print(f"  commit -> applied on beta: {summary(lat)}; {len(lat)} of {len(sent)} values applied "
              f"(the rest superseded before they were sent)")
        print(f"  p50 {pct(lat, 50):.1f} ms (target <= 50), p99 {pct(lat, 99):.1f} ms (target <= 1000)")
        # Where the time goes: commit -> message written (alpha), written -> applied (delivery and beta's apply).
        written: dict[str, Any] = shell_json(alpha, WRITTEN.format(since=since))
        received: dict[str, Any] = shell_json(beta, APPLIED.format(since=since))
        # A message that took later edits while it waited unsent was written before the edit it carries.
        gaps = [(w[1] - sent[w[0]]) * 1000 for w in written.values() if w[0] in sent]
        to_write = [g for g in gaps if g >= 0]
        to_apply = [(received[i] - w[1]) * 1000 for i, w in written.items() if i in received]
        answered = [(w[3] - w[1]) * 1000 for w in written.values() if w[3]]
        attempts = [w[2] for w in written.values()]
        print(f"  commit -> message written on alpha: {summary(to_write)}; "
              f"{len(gaps) - len(to_write)} messages took later edits while they waited unsent")
        print(f"  message written -> applied on beta: {summary(to_apply)}")
        print(f"  message written -> beta's answer recorded on alpha: {summary(answered)}")
        print(f"  {len(written)} messages, {sum(attempts)} sends, {sum(a > 1 for a in attempts)} sent more than once "
              f"(max {max(attempts, default=0)}); load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(f"  CPU per edit: {cpu_per(cpu_before, cpu_after, args.edits)} (the wait for the last edits "
              "polls beta, a little of its web's time)")
        rss = {**process_tree_rss(alpha), **process_tree_rss(beta)}
        for name, kb in sorted(rss.items()):
            print(f"  {name:50s} {kb / 1024:7.1f} MB peak")
        print(f"  max peak RSS: {max(rss.values()) / 1024:.1f} MB (target < 200)")
        print(json.dumps({"p50": pct(lat, 50), "p99": pct(lat, 99), "max_rss_mb": max(rss.values()) / 1024}))
    if args.profile:
        profiles_print(args.profile, spied)


if __name__ == "__main__":
    main()
