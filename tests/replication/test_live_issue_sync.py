"""Issues between two live sites (web, worker, beat, PostgreSQL, Redis): create, edit, comment,
transition, redelivery, a status the partner's workflow cannot reach, Retry."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from sitectl import wait_for
from tests.live import PG_BASE, Api, LiveSites, live_sites

pytestmark = pytest.mark.live

SHELL_PRELUDE = """
from django.contrib.auth.models import User
from jira import services as s
from jira.models import Issue, Comment
from jira.signals import Origin
u = User.objects.get(username="admin")
o = Origin.person(u.pk)
"""


class Pair:
    def __init__(self, sites: LiveSites) -> None:
        self.sites = sites
        self.alpha, self.beta = Api(sites["alpha"]), Api(sites["beta"])

    def rows(self, site: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(f"{PG_BASE}/{self.sites.databases[site]}", autocommit=True) as conn:
            return list(conn.execute(sql, args).fetchall())  # type: ignore[arg-type]

    def execute(self, site: str, sql: str, *args: Any) -> None:
        with psycopg.connect(f"{PG_BASE}/{self.sites.databases[site]}", autocommit=True) as conn:
            conn.execute(sql, args)  # type: ignore[arg-type]

    def run(self, site: str, code: str) -> str:
        """Python on the site, as a person working there (the site's own services, its own database)."""
        done = self.sites[site].manage("shell", "-c", SHELL_PRELUDE + code)
        return done.stdout.strip()

    def issue(self, site: str, key: str) -> dict[str, Any] | None:
        found = self.rows(site, "SELECT i.summary, st.name, p.name, i.labels_text, i.description "
                                "FROM jira_issue i JOIN jira_status st ON st.id = i.status_id "
                                "LEFT JOIN jira_priority p ON p.id = i.priority_id WHERE i.key = %s", key)
        if not found:
            return None
        summary, status, priority, labels, description = found[0]
        return {"summary": summary, "status": status, "priority": priority, "labels": labels.split(),
                "description": description}

    def copy_key(self, site: str, origin_site: str, origin_id: str) -> str | None:
        found = self.rows(site, "SELECT local_key FROM replication_issuelink WHERE origin_site = %s "
                                "AND origin_issue_id = %s", origin_site, origin_id)
        return str(found[0][0]) if found else None

    def comments(self, site: str, key: str) -> list[str]:
        rows = self.rows(site, "SELECT c.body FROM jira_comment c JOIN jira_issue i ON i.id = c.issue_id "
                               "WHERE i.key = %s ORDER BY c.id", key)
        return [json.dumps(r[0]) for r in rows]


@pytest.fixture(scope="module")
def pair(pg_template: str) -> Iterator[Pair]:
    with live_sites(pg_template) as sites:
        yield Pair(sites)


@pytest.fixture(scope="module")
def active(pair: Pair) -> str:
    r = pair.alpha.post("/synchronizations/", {"name": "Issues", "partner_address": "https://beta.atlassian.net",
                                               "scope": {"mode": "show_all"}})
    assert r.status_code == 201, r.text
    sync_id = str(r.json()["id"])
    pair.beta.wait_status(sync_id, "invitation_received")
    assert pair.beta.post(f"/synchronizations/{sync_id}/accept/", {"mode": "show_all"}).status_code == 200
    pair.alpha.wait_status(sync_id, "not_configured")
    both = "both"
    r = pair.alpha.post(f"/synchronizations/{sync_id}/mappings/", {
        "name": "Bugs", "local_project": "ALPHA", "partner_project": "BETA",
        "issue_types": [{"local": "Bug", "partner": "Bug"}],
        "field_pairs": [{"local": f, "partner": f, "direction": both}
                        for f in ("summary", "description", "priority", "labels", "status")],
        "value_maps": {}, "comments": both, "filter": "", "enabled": True})
    assert r.status_code == 201, r.text
    pair.beta.wait_status(sync_id, "active")
    return sync_id


def _create(pair: Pair, summary: str, **extra: Any) -> tuple[str, str]:
    fields = {"project": {"key": "ALPHA"}, "issuetype": {"name": "Bug"}, "summary": summary, **extra}
    out = pair.run("alpha", f"i = s.issue_create(actor=u, origin=o, fields={fields!r}); print(i.pk, i.key)")
    pk, key = out.split()[-2:]
    return pk, key


def test_it_creates_the_copy_once_and_keeps_both_sides_current(pair: Pair, active: str) -> None:
    pk, key = _create(pair, "Crash on login", priority={"name": "High"}, labels=["mobile"],
                      description="Steps: open the app")
    copy = wait_for(lambda: pair.copy_key("beta", "https://alpha.atlassian.net", pk), timeout=30,
                    what="beta to create the copy")
    assert isinstance(copy, str) and copy.startswith("BETA-")
    wait_for(lambda: (pair.issue("beta", copy) or {}).get("summary") == "Crash on login", timeout=15,
             what="the copy's summary")
    seen = pair.issue("beta", copy)
    assert seen is not None
    assert seen["priority"] == "High" and seen["labels"] == ["mobile"]
    assert "Steps: open the app" in json.dumps(seen["description"])
    # Each side links the other issue.
    wait_for(lambda: pair.rows("alpha", "SELECT title FROM jira_remotelink r JOIN jira_issue i ON i.id = r.issue_id "
                                        "WHERE i.key = %s", key), timeout=15, what="alpha's remote link")
    assert copy in pair.rows("alpha", "SELECT title FROM jira_remotelink r JOIN jira_issue i ON i.id = r.issue_id "
                                      "WHERE i.key = %s", key)[0][0]
    assert key in pair.rows("beta", "SELECT title FROM jira_remotelink r JOIN jira_issue i ON i.id = r.issue_id "
                                    "WHERE i.key = %s", copy)[0][0]

    # Edit on beta: the summary comes back to alpha; and nothing is echoed (versions settle).
    pair.run("beta", f"s.issue_update(actor=u, origin=o, issue=Issue.objects.get(key={copy!r}), "
                     "fields={'summary': 'Crash on login (iOS 18)'})")
    wait_for(lambda: (pair.issue("alpha", key) or {}).get("summary") == "Crash on login (iOS 18)", timeout=15,
             what="alpha to get beta's summary")

    # A comment on each side appears once on the other, with its author and site.
    pair.run("alpha", f"s.comment_add(actor=u, origin=o, issue=Issue.objects.get(key={key!r}), body='Seen on alpha')")
    pair.run("beta", f"s.comment_add(actor=u, origin=o, issue=Issue.objects.get(key={copy!r}), body='Seen on beta')")
    wait_for(lambda: len(pair.comments("beta", copy)) == 2 and len(pair.comments("alpha", key)) == 2, timeout=20,
             what="each comment on the other side")
    assert any("wrote on alpha.atlassian.net" in c and "Seen on alpha" in c for c in pair.comments("beta", copy))
    assert any("wrote on beta.atlassian.net" in c and "Seen on beta" in c for c in pair.comments("alpha", key))

    # Transition on alpha: the mapped status on beta, through beta's own workflow.
    pair.run("alpha", f"i = Issue.objects.get(key={key!r}); "
                      "t = next(t for t in s.transitions_available(i) if t.to_status.name == 'In Progress'); "
                      "s.issue_transition(actor=u, origin=o, issue=i, transition_id=t.pk)")
    wait_for(lambda: (pair.issue("beta", copy) or {}).get("status") == "In Progress", timeout=15,
             what="beta's copy to be In Progress")

    # Everything delivered again (a lost answer, a retry): still one copy, one comment each.
    pair.execute("alpha", "UPDATE invitations_outboxmessage SET state = 'pending', next_attempt_at = now() "
                          "WHERE synchronization_id = %s", active)
    wait_for(lambda: not pair.rows("alpha", "SELECT 1 FROM invitations_outboxmessage WHERE synchronization_id = %s "
                                            "AND state <> 'delivered'", active), timeout=30, what="redelivery")
    assert pair.rows("beta", "SELECT count(*) FROM replication_issuelink WHERE origin_issue_id = %s", pk)[0][0] == 1
    assert pair.rows("beta", "SELECT count(*) FROM jira_issue WHERE summary LIKE 'Crash on login%%'")[0][0] == 1
    assert len(pair.comments("beta", copy)) == 2 and len(pair.comments("alpha", key)) == 2
    assert pair.issue("alpha", key)["summary"] == pair.issue("beta", copy)["summary"]  # type: ignore[index]


def test_a_status_the_partner_cannot_reach_is_that_issues_error_until_retry(pair: Pair, active: str) -> None:
    pk, key = _create(pair, "Payment fails")
    copy = wait_for(lambda: pair.copy_key("beta", "https://alpha.atlassian.net", pk), timeout=30, what="the copy")
    assert isinstance(copy, str)
    # beta's workflow loses every way into Done (kept aside to restore).
    pair.run("beta", "from jira.models import Transition; import json; "
                     "print(json.dumps(list(Transition.objects.filter(project__key='BETA', to_status__name='Done')"
                     ".values('name', 'from_status_id', 'to_status_id')))); "
                     "Transition.objects.filter(project__key='BETA', to_status__name='Done').delete()")
    pair.run("alpha", f"i = Issue.objects.get(key={key!r}); "
                      "[s.issue_transition(actor=u, origin=o, issue=i.pk, transition_id=next("
                      "t for t in s.transitions_available(Issue.objects.get(pk=i.pk)) if t.to_status.name == n).pk) "
                      "for n in ('In Progress', 'Done')]")
    error = wait_for(lambda: pair.rows("beta", "SELECT error FROM replication_issuelink WHERE local_key = %s "
                                               "AND state = 'error'", copy), timeout=20, what="the error on beta")
    assert "no transition" in error[0][0] and "Done" in error[0][0]  # type: ignore[index]
    # Other issues still flow while this one is in error.
    pk2, _key2 = _create(pair, "Unrelated issue")
    wait_for(lambda: pair.copy_key("beta", "https://alpha.atlassian.net", pk2), timeout=30,
             what="another issue to flow past the error")
    # The admin fixes the workflow and retries: the waiting status applies.
    pair.run("beta", "from jira.models import Transition, Status, Project; "
                     "p = Project.objects.get(key='BETA'); "
                     "Transition.objects.create(project=p, name='Resolve', to_status=Status.objects.get(name='Done'))")
    link_id = pair.rows("beta", "SELECT id FROM replication_issuelink WHERE local_key = %s", copy)[0][0]
    r = pair.beta.post(f"/synchronizations/{active}/issue-errors/{link_id}/retry/")
    assert r.status_code == 200, r.text
    assert pair.issue("beta", copy)["status"] == "Done"  # type: ignore[index]
    assert pair.rows("beta", "SELECT state FROM replication_issuelink WHERE id = %s", link_id)[0][0] == "in_sync"
