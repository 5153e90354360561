"""The Synchronizations list and detail with N synchronizations and M messages: server time and queries.

    .venv/bin/python -m bench.listscale [--n 10000] [--messages 100000] [--pages 40]

Besides one delivered message per synchronization, M more messages are spread over the tables:
half sent, half received, one in ten of those on one "busy" synchronization (whose detail page is
measured: its history is paged), and a few hundred waiting or failed on the list's rows.

Runs inside a live site's own process environment (PostgreSQL): the rows are bulk-inserted (then
VACUUM ANALYZE, as autovacuum would have done on a site that has had them for a while), then
pages of the list API and of the list page are requested through Django's test client with the
queries captured, so the time is server time without the network. `cpu` is the CPU time of the site's
own process for the request (PostgreSQL's is not in it): on a shared machine it moves less with the
load than the wall-clock time does.
"""
from __future__ import annotations

import argparse

from bench.common import shell_json, two_sites

SCRIPT = r"""
import json, random, time, uuid
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from invitations.models import InboundMessage, OutboxMessage
from synchronizations.models import Scope, Synchronization
N, PAGES, MESSAGES = {n}, {pages}, {messages}
now = timezone.now()
scopes = Scope.objects.bulk_create([Scope() for _ in range(N)], batch_size=2000)
syncs = [Synchronization(name=f"Sync {{i}}", partner_address="https://beta.atlassian.net", role="inviter",
                         status=random.choice(["invitation_sent", "not_configured", "active", "deleted"]),
                         scope=s)
         for i, s in enumerate(scopes)]
Synchronization.objects.bulk_create(syncs, batch_size=2000)
OutboxMessage.objects.bulk_create([OutboxMessage(synchronization_id=s.id, sequence=1, message_type="invitation",
    recipient=s.partner_address, body=b"{{}}", state="delivered", next_attempt_at=now, give_up_at=now,
    created_at=now, delivered_at=now) for s in syncs], batch_size=2000)
busy = syncs[0]
def owner(i):
    return busy if i % 10 == 0 else syncs[i % len(syncs)]
visible = {{"projects": [{{"key": "A", "name": "A"}}], "issue_types": []}}
body = json.dumps({{"payload": {{"visible": visible}}}}).encode()
then = now - timezone.timedelta(days=1)
OutboxMessage.objects.bulk_create([OutboxMessage(synchronization_id=owner(i).id, stream=f"s{{i}}", sequence=1,
    message_type="scope_changed", recipient="https://beta.atlassian.net", body=body,
    state=("failed" if i % 1000 == 1 else "pending" if i % 1000 == 2 else "delivered"),
    next_attempt_at=then, give_up_at=now, created_at=then + timezone.timedelta(seconds=i), delivered_at=then)
    for i in range(MESSAGES // 2)], batch_size=2000)
InboundMessage.objects.bulk_create([InboundMessage(id=uuid.uuid4(), synchronization_id=owner(i).id,
    stream=f"s{{i}}", sequence=1, message_type="scope_changed", sender="https://beta.atlassian.net", body=body)
    for i in range(MESSAGES - MESSAGES // 2)], batch_size=2000)
# As a site that has had its rows for a while: planner statistics and visibility map up to date,
# not left to whenever autovacuum gets to the tables during the measurement.
with connection.cursor() as cur:
    for table in ("synchronizations_synchronization", "synchronizations_scope", "invitations_outboxmessage",
                  "invitations_inboundmessage"):
        cur.execute(f"VACUUM ANALYZE {{table}}")
c = Client()
c.force_login(get_user_model().objects.get(username="admin"))
out = {{}}
total = Synchronization.listed.count()
LIST = "/plugins/servlet/ac/issue-sync/synchronizations/"
for label, url, headers in (("api", "/api/synchronizations/?limit=50&offset={{o}}", {{}}),
                            ("page", LIST + "?page={{p}}", {{}}),
                            ("fragment", LIST + "?page={{p}}", {{"HTTP_X_LIVE_ROWS": "1"}})):
    times, cpu, queries = [], [], []
    for k in range(PAGES):
        p = random.randint(1, total // 50)
        with CaptureQueriesContext(connection) as q:
            t, t_cpu = time.perf_counter(), time.process_time()
            r = c.get(url.format(o=(p - 1) * 50, p=p), **headers)
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - t_cpu) * 1000)
        assert r.status_code == 200, r.status_code
        queries.append(len(q))
    out[label] = {{"times": times[1:], "cpu": cpu[1:], "queries": sorted(set(queries))}}
for label, headers in (("detail", {{}}), ("detail fragment", {{"HTTP_X_LIVE_ROWS": "1"}})):
    times, cpu, queries = [], [], []
    for k in range(PAGES):
        url = LIST + f"{{busy.pk}}/" + ("" if k % 2 else f"?history={{random.randint(1, 50)}}")
        with CaptureQueriesContext(connection) as q:
            t, t_cpu = time.perf_counter(), time.process_time()
            r = c.get(url, **headers)
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - t_cpu) * 1000)
        assert r.status_code == 200, r.status_code
        queries.append(len(q))
    out[label] = {{"times": times[1:], "cpu": cpu[1:], "queries": sorted(set(queries))}}
out["rows"] = total
out["messages"] = OutboxMessage.objects.count() + InboundMessage.objects.count()
out["busy"] = OutboxMessage.objects.filter(synchronization_id=busy.pk).count() + InboundMessage.objects.filter(
    synchronization_id=busy.pk).count()
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--pages", type=int, default=40)
    args = ap.parse_args()
    from bench.common import pct, summary
    with two_sites("redis") as sites:
        small = shell_json(sites["alpha"], SCRIPT.format(n=100, pages=5, messages=100))
        big = shell_json(sites["alpha"], SCRIPT.format(n=args.n, pages=args.pages, messages=args.messages))
    print(f"{big['messages']} messages in the tables, {big['busy']} of them on the busy synchronization")
    for label in ("api", "page", "fragment", "detail", "detail fragment"):
        cpu = pct(big[label]["cpu"], 50)
        what = label if label.startswith("detail") else f"list {label}"
        print(f"{what}, {big['rows']} rows: {summary(big[label]['times'])}, cpu p50={cpu:.1f}; "
              f"queries per page {big[label]['queries']} (with {small['rows']} rows: {small[label]['queries']})")


if __name__ == "__main__":
    main()
