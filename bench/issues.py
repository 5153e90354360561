"""The site's issues at scale: GET /issue/{key}, a 50-result JQL search, and bulk create.

    .venv/bin/python -m bench.issues [--issues 100000] [--comments 50000] [--samples 200] [--bulk 10000]

One live site on PostgreSQL (gunicorn, 2 workers). It is filled with `seed_site --issues N --comments M`
(bulk inserts, then VACUUM ANALYZE as autovacuum would have done). Then:
- in the site's own process environment, through Django's test client with a real API token and the
  queries captured (server time without the network), at the seeded size and again at N issues, so
  the query counts show they do not grow with the number of issues;
- over HTTP against gunicorn: GET /issue/{key} and the search (loopback), and `--bulk` issues
  created through POST /rest/api/3/issue/bulk, 50 per request (Jira's limit), one request at a time.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import time
import uuid
from typing import Any

import requests

from bench.common import pct, shell_json, summary
from tests.live import LiveSites, _pg, template_database

JQL = 'project = ALPHA AND statusCategory = "In Progress" ORDER BY created DESC'

SCRIPT = r"""
import base64, json, random, time
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from jira.models import Issue
auth = "Basic " + base64.b64encode(b"admin@example.com:{token}").decode()
c = Client(HTTP_AUTHORIZATION=auth)
keys = list(Issue.objects.values_list("key", flat=True).order_by("?")[:{samples}])
out = {{"issues": Issue.objects.count()}}
def measure(label, calls):
    times, cpu, queries = [], [], []
    for call in calls:
        with CaptureQueriesContext(connection) as q:
            t, t_cpu = time.perf_counter(), time.process_time()
            r = call()
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - t_cpu) * 1000)
        assert r.status_code == 200, (label, r.status_code, r.content[:300])
        queries.append(len(q))
    out[label] = {{"times": times[1:], "cpu": cpu[1:], "queries": sorted(set(queries))}}
measure("get", [lambda k=k: c.get(f"/rest/api/3/issue/{{k}}") for k in keys])
measure("search", [lambda: c.get("/rest/api/3/search/jql", {{"jql": {jql!r}, "maxResults": 50,
                                                           "fields": "*navigable"}})] * {searches})
measure("search_text", [lambda: c.get("/rest/api/3/search/jql", {{"jql": 'text ~ "checkout" ORDER BY updated DESC',
                                                                "maxResults": 50, "fields": "summary,status"}})] * 20)
measure("search_rare", [lambda: c.get("/rest/api/3/search/jql", {{"jql": 'text ~ "issue 77777" ORDER BY updated DESC',
                                                                "maxResults": 50, "fields": "summary,status"}})] * 20)
r = c.get("/rest/api/3/search/jql", {{"jql": {jql!r}, "maxResults": 50, "fields": "*navigable"}})
out["search_rows"] = len(r.json()["issues"])
out["keys"] = keys
print(json.dumps(out))
"""

VACUUM = r"""
import json
from django.db import connection
with connection.cursor() as cur:
    for table in ("jira_issue", "jira_comment", "jira_changelog", "jira_issuecounter"):
        cur.execute(f"VACUUM ANALYZE {table}")
print(json.dumps("ok"))
"""


def http_get_times(url: str, auth: tuple[str, str], keys: list[str]) -> list[float]:
    s = requests.Session()
    s.auth = auth
    times = []
    for key in keys:
        t = time.perf_counter()
        r = s.get(f"{url}/rest/api/3/issue/{key}", timeout=30)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.text[:300]
    return times[1:]


def http_search_times(url: str, auth: tuple[str, str], n: int) -> list[float]:
    s = requests.Session()
    s.auth = auth
    times = []
    for _ in range(n):
        t = time.perf_counter()
        params: dict[str, str] = {"jql": JQL, "maxResults": "50", "fields": "*navigable"}
        r = s.get(f"{url}/rest/api/3/search/jql", params=params, timeout=30)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200 and len(r.json()["issues"]) == 50, r.text[:300]
    return times[1:]


def bulk_create(url: str, auth: tuple[str, str], n: int) -> tuple[float, int]:
    s = requests.Session()
    s.auth = auth
    made = 0
    t = time.perf_counter()
    for start in range(0, n, 50):
        updates: list[dict[str, Any]] = [{"fields": {"project": {"key": "WEB"}, "issuetype": {"name": "Task"},
                               "summary": f"Bulk issue {start + i}", "labels": ["bulk"],
                               "description": {"type": "doc", "version": 1, "content": [
                                   {"type": "paragraph", "content": [{"type": "text", "text": "Made in bulk."}]}]}}}
                   for i in range(min(50, n - start))]
        r = s.post(f"{url}/rest/api/3/issue/bulk", json={"issueUpdates": updates}, timeout=60)
        assert r.status_code == 201 and not r.json()["errors"], r.text[:300]
        made += len(r.json()["issues"])
    return time.perf_counter() - t, made


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--issues", type=int, default=100_000)
    ap.add_argument("--comments", type=int, default=50_000)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--bulk", type=int, default=10_000)
    args = ap.parse_args()
    template = template_database(uuid.uuid4().hex[:8])
    sites = LiveSites(template, names=("alpha",), LOG_LEVEL="WARNING")
    try:
        site = sites["alpha"]
        token = site.manage("api_token", "admin").stdout.strip()
        auth = ("admin@example.com", token)
        script = SCRIPT.format(token=token, samples=args.samples, jql=JQL, searches=args.samples // 2)
        small = shell_json(site, script)
        t = time.perf_counter()
        site.manage("seed_site", "--issues", str(args.issues), "--comments", str(args.comments))
        fill = time.perf_counter() - t
        shell_json(site, VACUUM)
        big = shell_json(site, script)
        site.start("web")
        site.wait_healthy(timeout=90)
        http_get = http_get_times(site.url, auth, random.sample(big["keys"], len(big["keys"])))
        http_search = http_search_times(site.url, auth, args.samples // 2)
        bulk_seconds, made = bulk_create(site.url, auth, args.bulk)
    finally:
        sites.drop()
        _pg(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
    print(f"load average {os.getloadavg()[0]:.1f}; filled {big['issues']} issues "
          f"(+{args.comments} comments) in {fill:.1f}s")
    for label, name in (("get", "GET /issue/{key}"), ("search", f"search/jql 50 results ({JQL})"),
                        ("search_text", "search/jql text ~ \"checkout\" (a common word, 50 results)"),
                        ("search_rare", "search/jql text ~ \"issue 77777\" (a rare phrase)")):
        print(f"{name}, {big['issues']} issues, server: {summary(big[label]['times'])}, "
              f"cpu p50={pct(big[label]['cpu'], 50):.1f}; queries {big[label]['queries']} "
              f"(with {small['issues']} issues: {small[label]['queries']})")
    print(f"GET /issue/{{key}} over HTTP: {summary(http_get)}")
    print(f"search/jql 50 results over HTTP: {summary(http_search)}")
    print(f"bulk create over HTTP: {made} issues in {bulk_seconds:.1f}s ({made / bulk_seconds:.0f} issues/s, "
          f"50 per request)")
    print(json.dumps({"get_p50": pct(big["get"]["times"], 50), "search_p50": pct(big["search"]["times"], 50),
                      "bulk_seconds": bulk_seconds}))


if __name__ == "__main__":
    main()
