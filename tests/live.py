"""Two real sites for integration tests: own PostgreSQL databases, own Redis queues, free ports.

Every database is cloned from one migrated template (fast), every process is
started through bin/site and ended by its process group at teardown.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import requests

from sitectl import ROOT, Site, directory_setting, free_port, make_site, side_by_side, wait_for

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PG_BASE = PG_ADMIN_URL.rsplit("/", 1)[0]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
ARTIFACTS = ROOT / "artifacts"


def _pg(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def template_database(run_id: str) -> str:
    """Migrate one template database for this test run; sites clone it."""
    name = f"issuesync_tmpl_{run_id}"
    _pg(f'DROP DATABASE IF EXISTS "{name}"')
    _pg(f'CREATE DATABASE "{name}"')
    site = make_site("template", free_port(), directory="", log_dir=ARTIFACTS / "logs" / run_id / "template",
                     DATABASE_URL=f"{PG_BASE}/{name}", REDIS_URL=REDIS_URL)
    site.manage("migrate", "--noinput")
    return name


class LiveSites:
    """alpha and beta, each with web, worker and beat, that know each other through the directory."""

    def __init__(self, template: str, *, names: tuple[str, ...] = ("alpha", "beta"),
                 reach: dict[str, int] | None = None, site_env: dict[str, dict[str, str]] | None = None,
                 **env: str) -> None:
        self.run_id = uuid.uuid4().hex[:8]
        self.ports = {name: free_port() for name in names}
        # `reach` lets a test put a proxy in front of a site: partners call that port instead.
        self.directory = directory_setting({**self.ports, **(reach or {})})
        self.databases: dict[str, str] = {}
        self.sites: dict[str, Site] = {}
        for name in names:
            db = f"issuesync_{name}_{self.run_id}"
            _pg(f'CREATE DATABASE "{db}" TEMPLATE "{template}"')
            self.databases[name] = db
            defaults = dict(
                DATABASE_URL=f"{PG_BASE}/{db}", REDIS_URL=REDIS_URL, CELERY_QUEUE=f"t{self.run_id}-{name}",
                VAR_DIR=str(ARTIFACTS / "var" / self.run_id / name),
                DELIVERY_SWEEP_INTERVAL_SECONDS="1", DELIVERY_BACKOFF_BASE_SECONDS="0.2",
                DELIVERY_BACKOFF_MAX_SECONDS="2", WEB_CONCURRENCY="2", WORKER_CONCURRENCY="2",
            )
            # `env` may override any default (for example a private broker for one test), `site_env` one site's.
            site = make_site(name, self.ports[name], directory=self.directory,
                             log_dir=ARTIFACTS / "logs" / self.run_id / name,
                             **{**defaults, **env, **(site_env or {}).get(name, {})})
            self.sites[name] = site
        # Seeded side by side: each is a process of its own on a database of its own.
        side_by_side(list(self.sites.values()), lambda site: [site.env["PYTHON"], str(ROOT / "manage.py"), "seed_site"],
                     log="seed.log", timeout=120)

    def __getitem__(self, name: str) -> Site:
        return self.sites[name]

    def start(self) -> None:
        for site in self.sites.values():
            site.start()
        for site in self.sites.values():
            site.wait_healthy(timeout=60)

    def stop(self) -> None:
        for site in self.sites.values():
            site.stop()

    def drop(self) -> None:
        self.stop()
        for db in self.databases.values():
            _pg(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def admin_session(site: Site, username: str = "admin", password: str = "admin") -> requests.Session:
    """A requests session logged in through the real login page, with the CSRF header set."""
    s = requests.Session()
    s.get(site.url + "/login/", timeout=10)
    csrf_cookie = next(c for c in s.cookies if c.name.endswith("csrftoken"))
    r = s.post(site.url + "/login/", data={"username": username, "password": password,
                                           "csrfmiddlewaretoken": csrf_cookie.value or ""},
               headers={"Referer": site.url + "/login/"}, timeout=10, allow_redirects=False)
    assert r.status_code == 302, f"login as {username} failed: {r.status_code}"
    s.headers["X-CSRFToken"] = next(c for c in s.cookies if c.name.endswith("csrftoken")).value or ""
    s.headers["Referer"] = site.url + "/"
    return s


class Api:
    """The local admin API of one live site."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.http = admin_session(site)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.http.get(self.site.url + "/api" + path, timeout=15, **kw)

    def post(self, path: str, json: Any = None) -> requests.Response:
        return self.http.post(self.site.url + "/api" + path, json=json, timeout=30)

    def sync(self, sync_id: str) -> dict[str, Any]:
        r = self.get(f"/synchronizations/{sync_id}/")
        r.raise_for_status()
        return dict(r.json())

    def status_of(self, sync_id: str) -> str | None:
        r = self.get(f"/synchronizations/{sync_id}/")
        return str(r.json()["status"]) if r.status_code == 200 else None

    def wait_status(self, sync_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
        wait_for(lambda: self.status_of(sync_id) == status, timeout=timeout,
                 what=f"{self.site.name} to show {sync_id} as {status}")
        return self.sync(sync_id)


def synchronization_accepted(alpha: Api, beta: Api, name: str, timeout: float = 30) -> str:
    """alpha invites beta (Show all), beta accepts: the synchronization's id, Not configured on both."""
    r = alpha.post("/synchronizations/", {"name": name, "partner_address": "https://beta.atlassian.net",
                                          "scope": {"mode": "show_all"}})
    assert r.status_code == 201, r.text
    sync_id = str(r.json()["id"])
    beta.wait_status(sync_id, "invitation_received", timeout=timeout)
    assert beta.post(f"/synchronizations/{sync_id}/accept/", {"mode": "show_all"}).status_code == 200
    alpha.wait_status(sync_id, "not_configured", timeout=timeout)
    return sync_id


@contextmanager
def live_sites(template: str, *, reach: dict[str, int] | None = None,
               site_env: dict[str, dict[str, str]] | None = None, **env: str) -> Iterator[LiveSites]:
    sites = LiveSites(template, reach=reach, site_env=site_env, **env)  # type: ignore[arg-type]
    try:
        sites.start()
        yield sites
    finally:
        sites.drop()


def log_dir_of(sites: LiveSites) -> Path:
    return ARTIFACTS / "logs" / sites.run_id
