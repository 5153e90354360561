"""The first synchronization of existing issues: N issues with comments on alpha copied to beta by one run.

    .venv/bin/python -m bench.firstsync [--issues 2000] [--comments 5] [--broker redis|embedded] [--profile DIR]

Two live sites. alpha and beta accept a synchronization; `--issues` issues with `--comments` comments
each are made on alpha before any mapping exists (not measured), then a mapping (summary, description,
labels both ways, comments both ways) is enabled, a dry run is made, and *Create missing* is started
through the admin API. Measured: from the start to the run's end (which waits until every message is
delivered, i.e. applied on beta), the rate in issues/s, the list and detail pages' latency on alpha
while it runs, beta's duplicates (copies beyond one per issue, comments beyond the originals), and the
peak RSS of every process of both sites.
"""
from __future__ import annotations

import argparse
import json
import threading
import time
from typing import Any

import requests

from bench.common import cpu_by_role, cpu_per, process_tree_rss, shell_json, summary, two_sites
from bench.issuesync import _rest
from bench.profile import profiles_print, spies_start, spies_stop
from sitectl import Site, wait_for
from tests.live import Api, admin_session, synchronization_accepted

MAKE = """
import json
from django.db import transaction
from django.contrib.auth.models import User
from jira import services as s
from jira.signals import Origin
u = User.objects.get(username="admin")
o = Origin.person(u.pk)
for start in range(0, {issues}, 100):
    with transaction.atomic():
        for n in range(start, min(start + 100, {issues})):
            i = s.issue_create(actor=u, origin=o, fields={{
                "project": {{"key": "ALPHA"}}, "issuetype": {{"name": "Bug"}},
                "summary": "First sync " + str(n), "labels": ["existing"]}})
            for c in range({comments}):
                s.comment_add(actor=u, origin=o, issue=i.pk, body="Comment " + str(c) + " on " + i.key)
print(json.dumps({issues}))
"""
COPY = ("import json; from replication.models import IssueLink; "
        "print(json.dumps(IssueLink.objects.filter(local_key='{key}').exclude(partner_key='')"
        ".values_list('partner_key', flat=True).first()))")
BETA_COUNTS = """
import json
from django.db.models import Count
from jira.models import Comment, Issue
from replication.models import CommentLink, IssueLink
links = IssueLink.objects.filter(synchronization_id="{sync_id}")
issues = Issue.objects.filter(summary__startswith="First sync ").count()
copies = Comment.objects.filter(issue__summary__startswith="First sync ").count()
per_origin = links.values("origin_issue_id").annotate(n=Count("pk")).filter(n__gt=1).count()
print(json.dumps({{"links": links.count(), "issues": issues, "comments": copies, "origins_twice": per_origin,
                  "comment_links": CommentLink.objects.filter(link__synchronization_id="{sync_id}").count()}}))
"""


def _accepted(alpha: Site, beta: Site) -> str:
    return synchronization_accepted(Api(alpha), Api(beta), "First sync", timeout=60)


class EditProbe(threading.Thread):
    """An ordinary edit on alpha every two seconds while the run goes: how long until beta shows it."""

    def __init__(self, alpha: Site, beta: Site, key: str, copy: str) -> None:
        super().__init__(daemon=True)
        self.alpha, self.beta, self.key, self.copy = alpha, beta, key, copy
        self.a, self.b = _rest(alpha), _rest(beta)
        self.times: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            text = f"Ordinary edit {n}"
            t = time.monotonic()
            r = self.a.put(f"{self.alpha.url}/rest/api/3/issue/{self.key}", json={"fields": {"summary": text}},
                           timeout=30)
            assert r.status_code == 204, r.text
            while time.monotonic() - t < 120:
                try:
                    got = self.b.get(f"{self.beta.url}/rest/api/3/issue/{self.copy}", timeout=30).json()
                except requests.RequestException:  # a web worker recycled under us: ask again
                    self.b = _rest(self.beta)
                    continue
                if got["fields"]["summary"] == text:
                    self.times.append((time.monotonic() - t) * 1000)
                    break
                time.sleep(0.02)
            self.stop.wait(2)


class PageProbe(threading.Thread):
    """The list and detail pages of alpha, read one after the other while the run goes."""

    def __init__(self, site: Site, sync_id: str) -> None:
        super().__init__(daemon=True)
        self.http = admin_session(site)
        self.urls = {"list": f"{site.url}/plugins/servlet/ac/issue-sync/synchronizations/",
                     "detail": f"{site.url}/plugins/servlet/ac/issue-sync/synchronizations/{sync_id}/"}
        self.times: dict[str, list[float]] = {k: [] for k in self.urls}
        self.failures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for name, url in self.urls.items():
                t = time.monotonic()
                r = self.http.get(url, timeout=30)
                self.times[name].append((time.monotonic() - t) * 1000)
                self.failures += r.status_code != 200
            self.stop.wait(0.2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--issues", type=int, default=2000)
    ap.add_argument("--comments", type=int, default=5)
    ap.add_argument("--broker", default="redis", choices=["redis", "embedded"])
    ap.add_argument("--profile", metavar="DIR",
                    help="sample alpha's worker and beta's web with py-spy during the run (as bench.throughput)")
    args = ap.parse_args()
    with two_sites(args.broker) as sites:
        alpha, beta = sites["alpha"], sites["beta"]
        sync_id = _accepted(alpha, beta)
        t = time.monotonic()
        shell_json(alpha, MAKE.format(issues=args.issues, comments=args.comments))
        print(f"made {args.issues} issues with {args.comments} comments each on alpha in {time.monotonic() - t:.0f}s "
              "(not measured)", flush=True)
        a = Api(alpha)
        r = a.post(f"/synchronizations/{sync_id}/mappings/", {
            "name": "Existing bugs", "local_project": "ALPHA", "partner_project": "BETA",
            "issue_types": [{"local": "Bug", "partner": "Bug"}],
            "field_pairs": [{"local": f, "partner": f, "direction": "both"}
                            for f in ("summary", "description", "labels")],
            "value_maps": {}, "comments": "both", "filter": "", "enabled": True})
        assert r.status_code == 201, r.text
        mapping = r.json()["id"]
        Api(beta).wait_status(sync_id, "active", timeout=60)
        runs = f"/synchronizations/{sync_id}/existing-issues/"

        def finished(run_id: str) -> dict[str, Any] | None:
            row: dict[str, Any] = a.get(f"{runs}{run_id}/").json()
            return row if row["state"] in ("done", "cancelled", "failed") else None

        t = time.monotonic()
        dry_id = a.post(runs, {"mapping": mapping, "dry_run": True}).json()["id"]
        dry: Any = wait_for(lambda: finished(dry_id), timeout=3600, interval=0.5, what="the dry run")
        print(f"dry run: {time.monotonic() - t:.1f}s; would create {dry['created']}, skip {dry['skipped']}, "
              f"send {dry['comments']} comments", flush=True)

        # An issue made now flows by itself: the ordinary traffic the run must not hold up.
        canary = _rest(alpha).post(f"{alpha.url}/rest/api/3/issue", json={"fields": {
            "project": {"key": "ALPHA"}, "issuetype": {"name": "Bug"}, "summary": "Ordinary edit 0"}}, timeout=30)
        canary_key = canary.json()["key"]
        copy_key = wait_for(lambda: shell_json(alpha, COPY.format(key=canary_key)), timeout=60, interval=1,
                            what="the ordinary issue's copy")
        probe = PageProbe(alpha, sync_id)
        probe.start()
        edits = EditProbe(alpha, beta, canary_key, str(copy_key))
        edits.start()
        spies = spies_start(sites, args.profile) if args.profile else []
        cpu_before = cpu_by_role(sites)
        t0 = time.monotonic()
        r = a.post(runs, {"mapping": mapping})
        assert r.status_code == 201, r.text
        run_id = r.json()["id"]
        last_print = 0.0

        def done() -> dict[str, Any] | None:
            nonlocal last_print
            row: dict[str, Any] = a.get(f"{runs}{run_id}/").json()
            if time.monotonic() - last_print > 15:
                last_print = time.monotonic()
                print(f"  {time.monotonic() - t0:6.0f}s: {row['done']}/{row['total']} ({row['percent']} %), "
                      f"{row['rate']} issues/s, {row['note']}", flush=True)
            return row if row["state"] in ("done", "cancelled", "failed") else None

        try:
            run = wait_for(done, timeout=6 * 3600, interval=0.5, what="the run to finish")
            elapsed = time.monotonic() - t0
            cpu_after = cpu_by_role(sites)
        finally:
            spies_stop(spies)  # after the run's time is taken: py-spy writes its file as it stops
        probe.stop.set()
        edits.stop.set()
        probe.join(timeout=30)
        edits.join(timeout=150)
        assert isinstance(run, dict)
        counts = shell_json(beta, BETA_COUNTS.format(sync_id=sync_id))
        rss = {**process_tree_rss(alpha), **process_tree_rss(beta)}
        n, comments = args.issues, args.issues * args.comments
        print(f"first synchronization, broker={args.broker}: {n} issues x {args.comments} comments; "
              f"run {run['state']}: created {run['created']}, skipped {run['skipped']}, failed {run['failed']}, "
              f"comments sent {run['comments']}")
        print(f"  total {elapsed:.1f}s (start -> every message delivered and applied on beta): "
              f"{n / elapsed:.1f} issues/s, {(n + comments) / elapsed:.0f} issues+comments/s; "
              f"10,000 issues would take about {10000 / (n / elapsed) / 60:.1f} min (target <= 5)")
        print(f"  CPU per issue (with its comments; the page and edit probes' share included): "
              f"{cpu_per(cpu_before, cpu_after, n)}")
        print(f"  beta: {counts['issues']} issues (duplicates {counts['issues'] - n}), {counts['comments']} comments "
              f"(duplicates {counts['comments'] - comments}), links {counts['links']}, origins linked twice "
              f"{counts['origins_twice']}")
        for name, times in probe.times.items():
            print(f"  {name} page on alpha while it ran: {summary(times)}")
        print(f"  page answers other than 200: {probe.failures}")
        if edits.times:
            print(f"  an ordinary edit on alpha, shown on beta, while it ran: {summary(edits.times)}")
        for name, kb in sorted(rss.items()):
            print(f"  {name:50s} {kb / 1024:7.1f} MB peak")
        print(f"  max peak RSS: {max(rss.values()) / 1024:.1f} MB (target < 200)")
        print(json.dumps({"issues": n, "seconds": round(elapsed, 1), "issues_per_s": round(n / elapsed, 1),
                          "beta_duplicate_issues": counts["issues"] - n,
                          "beta_duplicate_comments": counts["comments"] - comments,
                          "max_rss_mb": round(max(rss.values()) / 1024, 1)}))
        if args.profile:
            profiles_print(args.profile)


if __name__ == "__main__":
    main()
