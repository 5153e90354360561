"""Synchronize existing issues between two live sites (web, worker, beat, PostgreSQL, Redis): a dry run,
then Create missing; every issue and comment exactly once on beta, and nothing the second time; a worker
SIGKILLed mid-run; a cancel that leaves no issue without its comments."""
from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from sitectl import wait_for
from tests.live import synchronization_accepted
from tests.replication.conftest import Pair

pytestmark = pytest.mark.live
ALPHA = "https://alpha.atlassian.net"
LABEL = "existing"
RUN_ISSUES = 150  # a run of 15 chunks: long enough to be stopped, killed or restarted half-way
MAKE_ISSUES = """
import json
made = []
for n in range({count}):
    i = s.issue_create(actor=u, origin=o, fields={{"project": {{"key": "{project}"}}, "issuetype": {{"name": "Bug"}},
                                                  "summary": "{prefix} " + str(n), "labels": ["{label}"]}})
    for c in range({comments}):
        s.comment_add(actor=u, origin=o, issue=i.pk, body="Note " + str(c) + " on " + i.key)
    made.append(str(i.pk))
print(json.dumps(made))
"""


class FirstSync:
    """An accepted synchronization whose mapping (ALPHA ↔ BETA bugs labelled `existing`) is switched off
    while "existing" issues are made on alpha, so that they have no link, then on again."""

    def __init__(self, pair: Pair, sync_id: str) -> None:
        self.pair, self.sync_id = pair, sync_id
        self.mapping: dict[str, Any] = {}

    @property
    def base(self) -> str:
        return f"synchronizations/{self.sync_id}"

    def admin(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        api = self.pair.alpha
        r = api.post(path, body) if method == "POST" else api.get(path)
        assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()

    def existing(self, prefix: str, count: int, comments: int, *, on_beta: int = 0) -> list[str]:
        """Issues made while the mapping is off: they exist before it, as in a real first synchronization.
        `on_beta`: as many issues with the same summaries made on beta too, the first one twice (for Connect
        existing)."""
        if self.mapping.get("enabled"):
            self.mapping = self.admin("POST", f"/{self.base}/mappings/{self.mapping['id']}/disable/",
                                      {"version": self.mapping["version"]})
            self.pair.beta.wait_status(self.sync_id, "not_configured")
        out = self.pair.run("alpha", MAKE_ISSUES.format(count=count, comments=comments, prefix=prefix, label=LABEL,
                                                        project="ALPHA"))
        for count in (on_beta, 1 if on_beta else 0):  # the first of them twice on beta
            self.pair.run("beta", MAKE_ISSUES.format(count=count, comments=0, prefix=prefix, label=LABEL,
                                                     project="BETA"))
        made: list[str] = json.loads(out.splitlines()[-1])
        if not self.mapping:
            self.mapping = self.admin("POST", f"/{self.base}/mappings/", {
                "name": "Existing bugs", "local_project": "ALPHA", "partner_project": "BETA",
                "issue_types": [{"local": "Bug", "partner": "Bug"}],
                "field_pairs": [{"local": f, "partner": f, "direction": "both"} for f in ("summary", "labels")],
                "value_maps": {}, "comments": "both", "filter": f"labels = {LABEL}", "enabled": True}, expect=201)
        else:
            self.mapping = self.admin("POST", f"/{self.base}/mappings/{self.mapping['id']}/enable/",
                                      {"version": self.mapping["version"]})
        self.pair.beta.wait_status(self.sync_id, "active")
        return made

    def start(self, *, dry_run: bool = False, mode: str = "create_missing") -> dict[str, Any]:
        run: dict[str, Any] = self.admin("POST", f"/{self.base}/existing-issues/", {
            "mapping": self.mapping["id"], "mode": mode, "dry_run": dry_run}, expect=201)
        return run

    def run(self, run_id: str) -> dict[str, Any]:
        row: dict[str, Any] = self.admin("GET", f"/{self.base}/existing-issues/{run_id}/")
        return row

    def finished(self, run_id: str, timeout: float = 120) -> dict[str, Any]:
        row = wait_for(lambda: (r := self.run(run_id))["state"] in ("done", "cancelled", "failed") and r,
                       timeout=timeout, interval=0.3, what=f"run {run_id} to finish")
        assert isinstance(row, dict)
        return row

    def copies(self, origin_ids: list[str]) -> dict[str, str]:
        """alpha issue id -> its copy's key on beta, from beta's links (one row per link)."""
        rows = self.pair.rows("beta", "SELECT origin_issue_id, local_key FROM replication_issuelink "
                                      "WHERE synchronization_id = %s AND origin_site = %s "
                                      "AND origin_issue_id = ANY(%s)", self.sync_id, ALPHA, origin_ids)
        assert len(rows) == len({r[0] for r in rows}), "two links for one origin issue"
        return {str(r[0]): str(r[1]) for r in rows}

    def comment_counts(self, keys: list[str]) -> dict[str, int]:
        return {str(k): int(n) for k, n in self.pair.rows(
            "beta", "SELECT i.key, count(c.id) FROM jira_issue i LEFT JOIN jira_comment c ON c.issue_id = i.id "
                    "WHERE i.key = ANY(%s) GROUP BY i.key", keys)}

    def beta_issues(self, prefix: str) -> int:
        return int(self.pair.rows("beta", "SELECT count(*) FROM jira_issue WHERE summary LIKE %s",
                                  prefix + " %")[0][0])


@pytest.fixture(scope="module")
def first(pair: Pair) -> Iterator[FirstSync]:
    sync_id = synchronization_accepted(pair.alpha, pair.beta, "First sync")
    fs = FirstSync(pair, sync_id)
    yield fs
    if fs.mapping.get("enabled"):
        fs.admin("POST", f"/{fs.base}/mappings/{fs.mapping['id']}/disable/", {"version": fs.mapping["version"]})
        pair.beta.wait_status(sync_id, "not_configured")


def test_a_dry_run_then_create_missing_copies_each_issue_and_comment_once_and_again_nothing(
    first: FirstSync
) -> None:
    made = first.existing("Existing", 30, 2)
    assert first.copies(made) == {}  # existing issues: nothing flowed by itself
    dry = first.finished(first.start(dry_run=True)["id"])
    assert (dry["state"], dry["created"], dry["failed"], dry["comments"]) == ("done", 30, 0, 60)
    assert first.copies(made) == {}  # a dry run sends nothing
    run = first.finished(first.start()["id"])
    assert (run["state"], run["percent"], run["created"], run["comments"]) == ("done", 100, 30, 60)
    assert run["skipped"] == dry["skipped"] and run["failed"] == 0
    # Done means delivered: beta holds exactly one copy of each issue, with exactly its two comments.
    copies = first.copies(made)
    assert len(copies) == 30 and first.beta_issues("Existing") == 30
    assert set(first.comment_counts(list(copies.values())).values()) == {2}
    again = first.finished(first.start()["id"])
    assert again["created"] == 0 and again["reasons"].get("already linked") == 30
    assert first.beta_issues("Existing") == 30 and len(first.copies(made)) == 30


def test_a_worker_killed_mid_run_ends_with_every_issue_and_comment_exactly_once(first: FirstSync) -> None:
    made = first.existing("Killed", RUN_ISSUES, 1)
    run = first.start()
    wait_for(lambda: 0 < first.run(run["id"])["done"] < 100, timeout=60, interval=0.05, what="the run under way")
    alpha = first.pair.sites["alpha"]
    alpha.stop("worker", sig=signal.SIGKILL)
    mid = first.run(run["id"])
    assert mid["state"] == "running" and mid["done"] < RUN_ISSUES
    alpha.start("worker")
    done = first.finished(run["id"], timeout=240)  # the sweep takes the silent run over
    assert done["state"] == "done" and done["created"] == RUN_ISSUES and done["failed"] == 0
    copies = first.copies(made)
    assert len(copies) == RUN_ISSUES and first.beta_issues("Killed") == RUN_ISSUES
    assert set(first.comment_counts(list(copies.values())).values()) == {1}


def test_a_site_restarted_mid_run_goes_on_where_it_was(first: FirstSync) -> None:
    made = first.existing("Restarted", RUN_ISSUES, 1)
    run = first.start()
    wait_for(lambda: 0 < first.run(run["id"])["done"] < 100, timeout=60, interval=0.05, what="the run under way")
    alpha = first.pair.sites["alpha"]
    alpha.stop()  # web, worker and beat, as a redeploy does
    alpha.start()
    alpha.wait_healthy(timeout=60)
    first.pair.alpha = type(first.pair.alpha)(alpha)  # a new session: the old one's server is gone
    done = first.finished(run["id"], timeout=240)
    assert done["state"] == "done" and done["created"] == RUN_ISSUES and done["failed"] == 0
    copies = first.copies(made)
    assert len(copies) == RUN_ISSUES and first.beta_issues("Restarted") == RUN_ISSUES
    assert set(first.comment_counts(list(copies.values())).values()) == {1}


def test_cancel_leaves_no_issue_without_its_comments(first: FirstSync) -> None:
    made = first.existing("Cancelled", RUN_ISSUES, 3)
    run = first.start()
    # (The issues of the earlier tests come first in id order: linked already, they are skipped.)
    wait_for(lambda: first.run(run["id"])["created"] > 0, timeout=60, interval=0.05, what="the first copies sent")
    first.admin("POST", f"/{first.base}/existing-issues/{run['id']}/cancel/")
    row = first.run(run["id"])
    assert row["state"] == "cancelled" and 0 < row["created"] < RUN_ISSUES
    wait_for(lambda: not first.pair.rows("alpha", "SELECT 1 FROM invitations_outboxmessage WHERE synchronization_id = "
                                                  "%s AND state <> 'delivered' LIMIT 1", first.sync_id),
             timeout=120, what="what was sent delivered")
    copies = first.copies(made)
    assert len(copies) == row["created"] == first.beta_issues("Cancelled")
    assert set(first.comment_counts(list(copies.values())).values()) == {3}
    # The rest is copied by the next run, none twice.
    rest = first.finished(first.start()["id"], timeout=180)
    assert rest["created"] == RUN_ISSUES - row["created"]
    assert len(first.copies(made)) == RUN_ISSUES == first.beta_issues("Cancelled")


def test_connect_existing_links_equal_summaries_and_copies_nothing(first: FirstSync) -> None:
    made = first.existing("Both sides", 12, 0, on_beta=10)  # beta has the first 10; one of them twice
    dry = first.finished(first.admin("POST", f"/{first.base}/existing-issues/", {
        "mapping": first.mapping["id"], "mode": "connect_existing", "match_by": "summary", "dry_run": True},
        expect=201)["id"])
    assert (dry["linked"], dry["reasons"].get("no match on the partner")) == (9, 2)
    assert dry["reasons"].get("matched ambiguously on the partner (left alone)") == 1
    assert first.copies(made) == {}  # a dry run links nothing
    run = first.finished(first.admin("POST", f"/{first.base}/existing-issues/", {
        "mapping": first.mapping["id"], "mode": "connect_existing", "match_by": "summary"}, expect=201)["id"])
    assert run["linked"] == 9 and len(run["matches"]["matched"]) == 9
    copies = first.copies(made)
    assert len(copies) == 9 and first.beta_issues("Both sides") == 11  # linked, not copied
    alpha_links = first.pair.rows("alpha", "SELECT count(*) FROM replication_issuelink WHERE synchronization_id = %s "
                                           "AND partner_key <> '' AND origin_issue_id = ANY(%s)", first.sync_id, made)
    assert alpha_links[0][0] == 9
    # A Create missing now copies only the three left: the two without a match and the ambiguous one.
    rest = first.finished(first.start()["id"])
    assert rest["created"] == 3 and first.beta_issues("Both sides") == 14
