"""Two live sites (web, worker, beat, PostgreSQL, Redis) with one Active synchronization mapping ALPHA and BETA bugs."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import requests

from sitectl import Site
from tests.live import PG_BASE, Api, LiveSites, live_sites, synchronization_accepted

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
        self._rest: dict[str, requests.Session] = {}

    def rest(self, site: str) -> requests.Session:
        """Jira's REST API on the site, as admin with an API token (HTTP Basic, as on Jira Cloud)."""
        if site not in self._rest:
            token = self.sites[site].manage("api_token", "admin").stdout.strip().split()[-1]
            session = requests.Session()
            session.auth = ("admin@example.com", token)
            self._rest[site] = session
        return self._rest[site]

    def api(self, site: str, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        r = self.rest(site).request(method, self.url(site, path), json=body, timeout=60)
        assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def transition(self, site: str, key: str, to: str) -> None:
        """Through the workflow, as a person does: the transition that leads to `to`."""
        found = self.api(site, "GET", f"issue/{key}/transitions")["transitions"]
        step = next(t for t in found if t["to"]["name"] == to)
        self.api(site, "POST", f"issue/{key}/transitions", {"transition": {"id": step["id"]}}, expect=204)

    def url(self, site: str, path: str) -> str:
        server: Site = self.sites[site]
        return f"{server.url}/rest/api/3/{path}"

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


@pytest.fixture(scope="package")
def pair(pg_template: str) -> Iterator[Pair]:
    # The sweep for changes whose push never ran, often: a test of it waits seconds, not half a minute.
    with live_sites(pg_template, MISSED_CHANGES_SWEEP_INTERVAL_SECONDS="2") as sites:
        yield Pair(sites)


@pytest.fixture(scope="module")
def active(pair: Pair) -> Iterator[str]:
    """An Active synchronization of its own for each test module; its mapping is disabled afterwards,
    so the next module's issues flow only through the next one."""
    sync_id = synchronization_accepted(pair.alpha, pair.beta, "Issues")
    both = "both"
    r = pair.alpha.post(f"/synchronizations/{sync_id}/mappings/", {
        "name": "Bugs", "local_project": "ALPHA", "partner_project": "BETA",
        "issue_types": [{"local": "Bug", "partner": "Bug"}],
        "field_pairs": [{"local": f, "partner": f, "direction": both}
                        for f in ("summary", "description", "priority", "labels", "status")],
        "value_maps": {}, "comments": both, "filter": "", "enabled": True})
    assert r.status_code == 201, r.text
    mapping = r.json()
    pair.beta.wait_status(sync_id, "active")
    yield sync_id
    r = pair.alpha.post(f"/synchronizations/{sync_id}/mappings/{mapping['id']}/disable/",
                        {"version": mapping["version"]})
    assert r.status_code == 200, r.text
    pair.beta.wait_status(sync_id, "not_configured")


