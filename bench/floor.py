"""The floor: the bare hop the product's delivery is measured against, on this machine, in the same run.

    .venv/bin/python -m bench.floor [--n 200] [--throughput 2000]

A bare hop is what any delivery between two sites must at least do: a Celery worker over Redis
reads one committed row, signs it with Ed25519 and posts it; a minimal WSGI receiver (gunicorn,
sync workers, the product's web concurrency) verifies the signature and commits one row.
Nothing else: no directory, no batching, no ordering, no dedupe, no framework.

Round trip = the receiver's commit time - the sender's commit time (one clock, one machine).
Throughput = rows committed by the receiver per second, first to last, for a queue of rows
drained by the worker (the product's Redis worker pool: threads).
bench.roundtrip and bench.throughput run this first and print their figures beside it.
"""
from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import requests
from celery import Celery
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sitectl import ROOT, free_port, processes_stop, wait_for
from tests.live import PG_BASE, REDIS_URL, _pg

SEND_DB = os.environ.get("FLOOR_SEND_DB", "")
RECEIVE_DB = os.environ.get("FLOOR_RECEIVE_DB", "")
RECEIVER_URL = os.environ.get("FLOOR_RECEIVER_URL", "")
QUEUE = os.environ.get("FLOOR_QUEUE", "floor")
# The key travels to both processes through the environment: the floor has no discovery.
PRIVATE_KEY = os.environ.get("FLOOR_PRIVATE_KEY", "")
PUBLIC_KEY = os.environ.get("FLOOR_PUBLIC_KEY", "")

app = Celery("floor", broker=os.environ.get("FLOOR_BROKER", REDIS_URL))
app.conf.update(task_default_queue=QUEUE, task_ignore_result=True, worker_prefetch_multiplier=4,
                broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)

_db: dict[int, psycopg.Connection[Any]] = {}
_http: dict[int, requests.Session] = {}


def _connection(dsn: str) -> psycopg.Connection[Any]:
    """One connection per thread and process: the floor pays no connect per row."""
    import threading

    k = hash((dsn, threading.get_ident(), os.getpid()))
    if k not in _db:
        _db[k] = psycopg.connect(dsn, autocommit=True)
    return _db[k]


def _session() -> requests.Session:
    import threading

    k = hash((threading.get_ident(), os.getpid()))
    if k not in _http:
        _http[k] = requests.Session()
    return _http[k]


@app.task(name="floor.hop")
def hop(row_id: str) -> None:
    """Read one committed row, sign it, post it; mark it sent."""
    conn = _connection(SEND_DB)
    row = conn.execute("SELECT body FROM floor_outbox WHERE id = %s", (row_id,)).fetchone()
    assert row is not None
    body = bytes(row[0])
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(PRIVATE_KEY))
    signature = base64.b64encode(key.sign(body)).decode()
    r = _session().post(RECEIVER_URL, data=body, headers={"Content-Type": "application/json",
                                                          "Signature": signature}, timeout=10)
    r.raise_for_status()
    conn.execute("UPDATE floor_outbox SET sent_at = now() WHERE id = %s", (row_id,))


def receiver(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The minimal WSGI receiver: verify the Ed25519 signature of the body, commit one row."""
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(PUBLIC_KEY)).verify(
            base64.b64decode(environ.get("HTTP_SIGNATURE", "")), body)
    except Exception:  # noqa: BLE001 - any bad signature is a 401
        start_response("401 Unauthorized", [("Content-Type", "text/plain")])
        return [b"bad signature"]
    row_id = body[8:44].decode()  # {"id": "<uuid>", ...}
    _connection(RECEIVE_DB).execute("INSERT INTO floor_inbox (id, received_at) VALUES (%s, now()) "
                                    "ON CONFLICT DO NOTHING", (row_id,))
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"status":"applied"}']


@dataclass
class Floor:
    send_db: str
    receive_db: str

    def query(self, db: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(f"{PG_BASE}/{db}", autocommit=True) as conn:
            return list(conn.execute(sql, args).fetchall())  # type: ignore[arg-type]

    def commit_and_ring(self, n: int, *, ring: bool = True) -> list[str]:
        """Commit n rows on the sender, one transaction each, and ring the worker for each."""
        ids = []
        with psycopg.connect(f"{PG_BASE}/{self.send_db}", autocommit=True) as conn:
            for _ in range(n):
                row_id = str(uuid.uuid4())
                conn.execute("INSERT INTO floor_outbox (id, body, created_at) VALUES (%s, %s, now())",
                             (row_id, f'{{"id": "{row_id}", "payload": {{}}}}'.encode()))
                ids.append(row_id)
                if ring:
                    hop.delay(row_id)
        return ids

    def received(self) -> int:
        return int(self.query(self.receive_db, "SELECT count(*) FROM floor_inbox")[0][0])

    def latencies_ms(self) -> list[float]:
        sent = dict(self.query(self.send_db, "SELECT id::text, created_at FROM floor_outbox"))
        got = dict(self.query(self.receive_db, "SELECT id::text, received_at FROM floor_inbox"))
        return [(got[k] - sent[k]).total_seconds() * 1000 for k in sent if k in got]

    def span_seconds(self) -> float:
        a, b = self.query(self.receive_db, "SELECT min(received_at), max(received_at) FROM floor_inbox")[0]
        return float((b - a).total_seconds())

    def reset(self) -> None:
        for db, table in ((self.send_db, "floor_outbox"), (self.receive_db, "floor_inbox")):
            with psycopg.connect(f"{PG_BASE}/{db}", autocommit=True) as conn:
                conn.execute(f"TRUNCATE {table}")  # type: ignore[arg-type]


@contextmanager
def floor(*, web_concurrency: int = 2, worker_concurrency: int = 8) -> Iterator[Floor]:
    """Start the bare hop: two databases, the receiver and the worker; end them all afterwards."""
    run = uuid.uuid4().hex[:8]
    send_db, receive_db = f"floor_send_{run}", f"floor_receive_{run}"
    for db in (send_db, receive_db):
        _pg(f'CREATE DATABASE "{db}"')
    with psycopg.connect(f"{PG_BASE}/{send_db}", autocommit=True) as conn:
        conn.execute("CREATE TABLE floor_outbox (id uuid PRIMARY KEY, body bytea NOT NULL, "
                     "created_at timestamptz NOT NULL, sent_at timestamptz)")
    with psycopg.connect(f"{PG_BASE}/{receive_db}", autocommit=True) as conn:
        conn.execute("CREATE TABLE floor_inbox (id uuid PRIMARY KEY, received_at timestamptz NOT NULL)")
    key = Ed25519PrivateKey.generate()
    port = free_port()
    env = {**os.environ, "FLOOR_SEND_DB": f"{PG_BASE}/{send_db}", "FLOOR_RECEIVE_DB": f"{PG_BASE}/{receive_db}",
           "FLOOR_RECEIVER_URL": f"http://127.0.0.1:{port}/inbox", "FLOOR_QUEUE": f"floor-{run}",
           "FLOOR_PRIVATE_KEY": base64.b64encode(key.private_bytes_raw()).decode(),
           "FLOOR_PUBLIC_KEY": base64.b64encode(key.public_key().public_bytes(
               Encoding.Raw, PublicFormat.Raw)).decode()}
    procs = [
        subprocess.Popen([sys.executable, "-m", "gunicorn", "bench.floor:receiver", "--bind", f"127.0.0.1:{port}",
                          "--workers", str(web_concurrency), "--log-level", "warning"],
                         env=env, cwd=ROOT, start_new_session=True),
        subprocess.Popen([sys.executable, "-m", "celery", "-A", "bench.floor", "worker", "--pool", "threads",
                          "--concurrency", str(worker_concurrency), "--loglevel", "WARNING", "--without-gossip",
                          "--without-mingle", "--hostname", f"floor-{run}"],
                         env=env, cwd=ROOT, start_new_session=True),
    ]
    # This process rings the worker: the same queue and broker.
    app.conf.task_default_queue = env["FLOOR_QUEUE"]
    try:
        def up() -> bool:
            try:
                return requests.post(env["FLOOR_RECEIVER_URL"], data=b"", timeout=2).status_code == 401
            except requests.RequestException:
                return False
        wait_for(up, timeout=60, what="the floor's receiver")
        f = Floor(send_db, receive_db)
        # Warm up: the worker is ready once a hop arrives.
        f.commit_and_ring(5)
        wait_for(lambda: f.received() >= 5, timeout=120, interval=0.1, what="the floor's warm-up hops")
        f.reset()
        yield f
    finally:
        processes_stop(procs)
        for db in (send_db, receive_db):
            _pg(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


@dataclass
class FloorFigures:
    roundtrip_ms: list[float]
    rate: float  # messages/s sustained


def measure(*, n: int = 200, throughput: int = 2000, pause: float = 0.05) -> FloorFigures:
    """The floor's round trip (n hops, one after another) and sustained rate (a queue of `throughput` rows).

    The round trip's rows are committed `pause` apart, as an admin's actions one after another
    are: each hop travels alone, so the figure is the hop's latency, not a queue's.
    """
    with floor() as f:
        for _ in range(n):
            f.commit_and_ring(1)
            if pause:
                time.sleep(pause)
        wait_for(lambda: f.received() >= n, timeout=120, interval=0.1, what="the floor's round trips")
        roundtrip = f.latencies_ms()
        f.reset()
        if throughput:
            f.commit_and_ring(throughput)
            wait_for(lambda: f.received() >= throughput, timeout=600, interval=0.5, what="the floor's drain")
        rate = (throughput - 1) / f.span_seconds() if throughput else 0.0
    return FloorFigures(roundtrip, rate)


def beside(label: str, value: float, floor_value: float, unit: str) -> str:
    """One figure beside the floor's, and the ratio."""
    ratio = value / floor_value if floor_value else float("nan")
    return f"{label}: {value:.1f} {unit} (floor {floor_value:.1f} {unit}, {ratio:.1f}x the floor)"


def main() -> None:
    from bench.common import pct, summary

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--throughput", type=int, default=2000)
    args = ap.parse_args()
    figures = measure(n=args.n, throughput=args.throughput)
    print(f"floor round trip: {summary(figures.roundtrip_ms)}")
    print(f"floor p50 {pct(figures.roundtrip_ms, 50):.1f} ms, p99 {pct(figures.roundtrip_ms, 99):.1f} ms; "
          f"sustained {figures.rate:.0f} messages/s; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
