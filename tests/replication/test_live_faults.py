"""Faults between two live sites: the partner down while issues are created and edited; both sides
editing the same issues at once. Every issue once, every comment once, the same values on both sides."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from sitectl import wait_for
from tests.replication.conftest import Pair

pytestmark = pytest.mark.live
ALPHA = "https://alpha.atlassian.net"
COUNT = 200


def _drained(pair: Pair, sync_id: str) -> bool:
    return not any(pair.rows(site, "SELECT 1 FROM invitations_outboxmessage WHERE synchronization_id = %s "
                                   "AND state <> 'delivered' LIMIT 1", sync_id) for site in ("alpha", "beta"))


def _pairs(pair: Pair, sync_id: str) -> list[tuple[str, str]]:
    """(alpha key, beta key) of every linked issue, from beta's links."""
    rows = pair.rows("beta", "SELECT origin_issue_id, local_key FROM replication_issuelink "
                             "WHERE synchronization_id = %s AND origin_site = %s", sync_id, ALPHA)
    keys = dict(pair.rows("alpha", "SELECT id::text, key FROM jira_issue WHERE id::text = ANY(%s)",
                          [r[0] for r in rows]))
    return [(keys[origin], copy) for origin, copy in rows]


def _summaries(pair: Pair, site: str, keys: list[str]) -> dict[str, str]:
    return dict(pair.rows(site, "SELECT key, summary FROM jira_issue WHERE key = ANY(%s)", keys))


def test_partner_down_while_issues_are_created_edited_and_commented_then_up(pair: Pair, active: str) -> None:
    pair.sites["beta"].stop()
    try:
        alpha = pair.rest("alpha")
        keys: list[str] = []
        for first in range(0, COUNT, 50):  # Jira's most issues a bulk create takes
            r = alpha.post(pair.url("alpha", "issue/bulk"), json={"issueUpdates": [
                {"fields": {"project": {"key": "ALPHA"}, "issuetype": {"name": "Bug"}, "summary": f"Outage {n}"}}
                for n in range(first, min(first + 50, COUNT))]}, timeout=60)
            assert r.status_code == 201, r.text
            keys += [i["key"] for i in r.json()["issues"]]
        for n, key in enumerate(keys):
            r = alpha.put(pair.url("alpha", f"issue/{key}"), json={"fields": {"summary": f"Outage {n} (edited)"}},
                          timeout=30)
            assert r.status_code == 204, r.text
            if n % 4 == 0:
                r = alpha.post(pair.url("alpha", f"issue/{key}/comment"), json={"body": f"Noted {n}"}, timeout=30)
                assert r.status_code == 201, r.text
    finally:
        pair.sites["beta"].start()
        pair.sites["beta"].wait_healthy(timeout=60)
    wait_for(lambda: _drained(pair, active) and len(_pairs(pair, active)) >= COUNT, timeout=120,
             what="every issue on beta once the partner is up")
    linked = dict(_pairs(pair, active))
    assert all(k in linked for k in keys)
    assert pair.rows("beta", "SELECT count(*) FROM jira_issue WHERE summary LIKE 'Outage %%'")[0][0] == COUNT
    copies = _summaries(pair, "beta", [linked[k] for k in keys])
    assert all(copies[linked[key]] == f"Outage {n} (edited)" for n, key in enumerate(keys))
    comments = dict(pair.rows("beta", "SELECT i.key, count(c.id) FROM jira_issue i LEFT JOIN jira_comment c "
                                      "ON c.issue_id = i.id WHERE i.key = ANY(%s) GROUP BY i.key",
                              [linked[k] for k in keys]))
    assert all(comments[linked[key]] == (1 if n % 4 == 0 else 0) for n, key in enumerate(keys))


def test_both_sides_editing_the_same_issues_at_once_converge(pair: Pair, active: str) -> None:
    pairs = wait_for(lambda: _pairs(pair, active), timeout=30, what="linked issues")
    assert isinstance(pairs, list)
    pairs = pairs[:20]
    alpha, beta = pair.rest("alpha"), pair.rest("beta")

    def edit(job: tuple[str, str, str, int]) -> int:
        site, key, label, n = job
        session = alpha if site == "alpha" else beta
        fields: dict[str, Any] = {"summary": f"{label} {n}"}
        if site == "beta":
            fields["labels"] = ["from-beta"]  # a different field: it survives whichever summary wins
        return session.put(pair.url(site, f"issue/{key}"), json={"fields": fields}, timeout=30).status_code

    jobs = [job for n, (a, b) in enumerate(pairs)
            for job in (("alpha", a, "Alpha says", n), ("beta", b, "Beta says", n))]
    with ThreadPoolExecutor(max_workers=6) as pool:
        assert set(pool.map(edit, jobs)) == {204}

    def settled() -> bool:
        if not _drained(pair, active):
            return False
        left = _summaries(pair, "alpha", [a for a, _ in pairs])
        right = _summaries(pair, "beta", [b for _, b in pairs])
        return all(left[a] == right[b] for a, b in pairs)

    wait_for(settled, timeout=90, what="both sides to hold the same summaries")
    labels = dict(pair.rows("alpha", "SELECT key, labels_text FROM jira_issue WHERE key = ANY(%s)",
                            [a for a, _ in pairs]))
    assert all(labels[a].split() == ["from-beta"] for a, _ in pairs)
    # No ping-pong: once settled, nothing more is sent.
    before = pair.rows("alpha", "SELECT count(*) FROM invitations_outboxmessage WHERE synchronization_id = %s",
                       active)[0][0]
    time.sleep(2)  # a negative check: two seconds of quiet, in which a loop would have sent again
    after = pair.rows("alpha", "SELECT count(*) FROM invitations_outboxmessage WHERE synchronization_id = %s",
                      active)[0][0]
    assert after == before
