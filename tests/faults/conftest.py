"""Two live sites with a fault-injecting proxy in front of beta: alpha reaches beta only through it."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from sitectl import wait_for
from tests.faults.proxy import Proxy
from tests.live import PG_BASE, Api, LiveSites, live_sites


@dataclass
class Faulty:
    sites: LiveSites
    proxy: Proxy
    alpha: Api
    beta: Api

    def rows(self, site: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(f"{PG_BASE}/{self.sites.databases[site]}", autocommit=True) as conn:
            return list(conn.execute(sql, args).fetchall())  # type: ignore[arg-type]

    def invite(self, name: str) -> str:
        r = self.alpha.post("/synchronizations/", {"name": name, "sync_type": "cloud_to_cloud",
                                                   "partner_address": "https://beta.atlassian.net",
                                                   "scope": {"mode": "show_all"}})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def outbox(self, site: str, sync_id: str) -> list[tuple[Any, ...]]:
        return self.rows(site, "SELECT id, sequence, state, attempts FROM invitations_outboxmessage "
                               "WHERE synchronization_id = %s ORDER BY sequence", sync_id)

    def settle(self, sync_id: str, alpha_status: str | None, beta_status: str | None,
               timeout: float = 30) -> dict[str, int]:
        """Wait until every message of the synchronization is delivered, then check it was applied once.

        Returns the delivery attempts per side, for the reliability report.
        """
        def done() -> bool:
            states = [r[2] for side in ("alpha", "beta") for r in self.outbox(side, sync_id)]
            return all(s == "delivered" for s in states) and \
                (alpha_status is None or self.alpha.status_of(sync_id) == alpha_status) and \
                (beta_status is None or self.beta.status_of(sync_id) == beta_status)
        wait_for(done, timeout=timeout, interval=0.1, what=f"{sync_id} to settle")
        attempts = {}
        for sender, receiver in (("alpha", "beta"), ("beta", "alpha")):
            sent = {str(r[0]) for r in self.outbox(sender, sync_id)}
            received = [str(r[0]) for r in self.rows(
                receiver, "SELECT id FROM invitations_inboundmessage WHERE synchronization_id = %s", sync_id)]
            # Exactly once in effect: each sent message recorded (and so applied) once on the other side.
            assert sorted(received) == sorted(sent), (sender, sent, received)
            attempts[sender] = sum(r[3] for r in self.outbox(sender, sync_id))
        for side in ("alpha", "beta"):
            assert not [r for r in self.outbox(side, sync_id) if r[2] != "delivered"]
        return attempts


@pytest.fixture(scope="package")
def faulty(pg_template: str) -> Iterator[Faulty]:
    proxy = Proxy()
    try:
        with live_sites(pg_template, reach={"beta": proxy.port}, OUTGOING_READ_TIMEOUT="1",
                        OUTGOING_CONNECT_TIMEOUT="1", DELIVERY_LEASE_SECONDS="3",
                        LOGIN_LOCKOUT_MINUTES="0.05") as sites:
            proxy.upstream = sites.ports["beta"]
            yield Faulty(sites, proxy, Api(sites["alpha"]), Api(sites["beta"]))
    finally:
        proxy.close()


@pytest.fixture()
def f(faulty: Faulty) -> Iterator[Faulty]:
    faulty.proxy.set("pass")
    yield faulty
    faulty.proxy.set("pass")


__all__ = ["Faulty", "wait_for"]
