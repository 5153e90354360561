"""Delivery between two live sites when things break: the partner down for a while, a worker killed mid-send.

These tests stop and kill processes, so they run on their own pair of sites,
with a short delivery lease so a claim whose worker died expires quickly.
"""
from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from sitectl import wait_for
from tests.live import PG_BASE, Api, LiveSites, live_sites

pytestmark = pytest.mark.live
LEASE_SECONDS = 3


@pytest.fixture(scope="module")
def breakable(pg_template: str) -> Iterator[LiveSites]:
    with live_sites(pg_template, DELIVERY_LEASE_SECONDS=str(LEASE_SECONDS), OUTGOING_READ_TIMEOUT="30") as s:
        yield s


def _query(sites: LiveSites, site: str, sql: str, *args: Any) -> Any:
    with psycopg.connect(f"{PG_BASE}/{sites.databases[site]}") as conn:
        row = conn.execute(sql, args).fetchone()  # type: ignore[arg-type]
    return row[0] if row else None


def _inbound_count(sites: LiveSites, sync_id: str) -> int:
    return int(_query(sites, "beta", "SELECT count(*) FROM invitations_inboundmessage "
                                     "WHERE synchronization_id = %s AND message_type = 'invitation'", sync_id))


def _invite(api: Api, name: str) -> str:
    r = api.post("/synchronizations/", {"name": name, "sync_type": "cloud_to_cloud",
                                        "partner_address": "https://beta.atlassian.net"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_messages_wait_for_a_partner_that_is_down_and_arrive_once_it_is_back(breakable: LiveSites) -> None:
    alpha, beta = Api(breakable["alpha"]), Api(breakable["beta"])
    # Invite while beta can still be discovered, but before alpha's worker may deliver.
    breakable["alpha"].stop("worker")
    sync_id = _invite(alpha, "While beta is down")
    breakable["beta"].stop("web")
    try:
        breakable["alpha"].start("worker")
        # Retried with backoff: the delivery state says so, with a growing attempt count and the reason.
        wait_for(lambda: alpha.sync(sync_id)["delivery"]["attempts"] >= 3, timeout=30,
                 what="alpha to retry the invitation three times")
        delivery = alpha.sync(sync_id)["delivery"]
        assert delivery["state"] == "pending"
        assert "could not be reached" in delivery["error"]
        assert delivery["next_attempt_at"]
        assert alpha.status_of(sync_id) == "invitation_sent"
    finally:
        breakable["beta"].start("web")
        breakable["beta"].wait_healthy(timeout=60)
    beta.http = Api(breakable["beta"]).http  # a fresh login: the old connection died with the web process
    received = beta.wait_status(sync_id, "invitation_received", timeout=30)
    assert received["name"] == "While beta is down"
    wait_for(lambda: alpha.sync(sync_id)["delivery"]["state"] == "delivered", timeout=30,
             what="alpha to record the invitation as delivered")
    assert alpha.status_of(sync_id) == "invitation_sent"
    assert _inbound_count(breakable, sync_id) == 1


def test_a_worker_killed_mid_delivery_leaves_the_message_delivered_exactly_once(breakable: LiveSites) -> None:
    alpha, beta = Api(breakable["alpha"]), Api(breakable["beta"])
    breakable["alpha"].stop("worker")
    sync_id = _invite(alpha, "Worker killed")
    web = breakable["beta"].processes["web"]
    # Beta freezes: alpha's worker sends and then waits for an answer that does not come.
    os.killpg(web.pid, signal.SIGSTOP)
    try:
        breakable["alpha"].start("worker")
        wait_for(lambda: _query(breakable, "alpha", "SELECT state FROM invitations_outboxmessage "
                                                     "WHERE synchronization_id = %s", sync_id) == "delivering",
                 timeout=30, what="alpha's worker to claim the invitation")
        breakable["alpha"].stop("worker", sig=signal.SIGKILL)
    finally:
        os.killpg(web.pid, signal.SIGCONT)
    # Beta may now answer the dead worker's request: the message is applied at most once whatever happens.
    breakable["alpha"].start("worker")
    beta.wait_status(sync_id, "invitation_received", timeout=30)
    wait_for(lambda: alpha.sync(sync_id)["delivery"]["state"] == "delivered", timeout=LEASE_SECONDS + 30,
             what="the claim to expire and the invitation to be delivered again")
    attempts = _query(breakable, "alpha", "SELECT attempts FROM invitations_outboxmessage "
                                          "WHERE synchronization_id = %s", sync_id)
    assert attempts >= 2  # the killed worker's claim, then the one after its lease expired
    assert _inbound_count(breakable, sync_id) == 1


def test_a_burst_of_messages_is_delivered_in_batches_each_once(breakable: LiveSites) -> None:
    alpha = Api(breakable["alpha"])
    breakable["alpha"].stop("worker")
    ids = [_invite(alpha, f"Burst {i}") for i in range(30)]
    breakable["alpha"].start("worker")
    def all_delivered() -> bool:
        return all(alpha.sync(sync_id)["delivery"]["state"] == "delivered" for sync_id in ids)

    wait_for(all_delivered, timeout=60, what="alpha to record every invitation of the burst as delivered")
    assert [_inbound_count(breakable, sync_id) for sync_id in ids] == [1] * len(ids)
    placeholders = ",".join(["%s"] * len(ids))
    attempts = _query(breakable, "alpha", "SELECT array_agg(DISTINCT attempts) FROM invitations_outboxmessage "
                                          f"WHERE synchronization_id::text IN ({placeholders})", *ids)
    assert attempts == [1]
    # A batch's messages are recorded delivered together, at one moment: fewer moments than messages.
    moments = _query(breakable, "alpha", "SELECT count(DISTINCT delivered_at) FROM invitations_outboxmessage "
                                         f"WHERE synchronization_id::text IN ({placeholders})", *ids)
    assert moments < len(ids)
