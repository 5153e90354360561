"""QA's kit against two live sites run as two compose stacks would run them.

Each site is its own group of processes (web, worker, beat) with its own PostgreSQL database and its
own broker (a Redis database of its own), and finds the other only through SITE_DIRECTORY in its
environment. qa_connect runs on alpha like `docker compose -p alpha exec web python manage.py ...`.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sitectl import ROOT, Site
from tests.live import REDIS_URL, Api, LiveSites, live_sites

pytestmark = pytest.mark.live

BETA = "https://beta.atlassian.net"
REDIS_BASE = REDIS_URL.rsplit("/", 1)[0]
# Fields that differ between two seeds by nature: a password hash's random salt, the clock.
VOLATILE = {"auth.user": {"password", "date_joined", "last_login"}}
# Not the site's data: a cache of what partners publish, which the worker fills whenever it starts or is asked,
# and where the scheduler's sweep for missed changes last started (written every half minute).
NOT_DATA = {"invitations.partnerdocument", "replication.changesswept"}
SEEDED: dict[str, list[tuple[str, str, str]]] = {}
TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def stacks(pg_template: str) -> Iterator[LiveSites]:
    own_brokers = {"alpha": {"REDIS_URL": f"{REDIS_BASE}/12"}, "beta": {"REDIS_URL": f"{REDIS_BASE}/13"}}
    with live_sites(pg_template, site_env=own_brokers) as s:
        SEEDED["alpha"] = _data(s["alpha"])  # as `bin/site prepare` left it, before any test
        yield s


def _token(site: Site) -> str:
    """The admin's API token; asked once per site (a command costs a process start), until a reset drops it."""
    if site.name not in TOKENS:
        TOKENS[site.name] = site.manage("admin_token").stdout.strip()
    return TOKENS[site.name]


def _api(site: Site, token: str, path: str) -> requests.Response:
    return requests.get(f"{site.url}/api{path}", headers={"Authorization": f"Token {token}"}, timeout=10)


def _data(site: Site) -> list[tuple[str, str, str]]:
    """Every row of the site's database, as (model, pk, fields), without what differs by nature."""
    rows = []
    for obj in json.loads(site.manage("dumpdata").stdout):
        if obj["model"] in NOT_DATA:
            continue
        fields = {k: v for k, v in obj["fields"].items() if k not in VOLATILE.get(obj["model"], set())}
        rows.append((obj["model"], str(obj["pk"]), json.dumps(fields, sort_keys=True)))
    return sorted(rows)


def _key_id(site: Site) -> str:
    return str(requests.get(site.url + "/.well-known/issue-sync", timeout=5).json()["public_key"]["key_id"])


def _connect(stacks: LiveSites, token: str, *args: str) -> dict[str, Any]:
    r = stacks["alpha"].manage("qa_connect", "--partner", BETA, "--partner-token", token, "--json", *args,
                               check=False)
    assert r.returncode == 0, r.stderr
    return dict(json.loads(r.stdout))


def test_qa_connect_makes_a_mapped_pair_active_on_both_sites_within_seconds(stacks: LiveSites) -> None:
    alpha, beta = stacks["alpha"], stacks["beta"]
    token = _token(beta)
    assert len(token) == 40 and beta.manage("admin_token").stdout.strip() == token  # the same one every time

    made = _connect(stacks, token, "--mapping", "ALPHA=BETA", "--mapping", "WEB=API")
    # From the invitation to Active on both sites, as the command measured it (Python's start aside).
    assert made["seconds"] < 15, f"qa_connect took {made['seconds']}s"
    assert made["status"] == {alpha.address: "active", BETA: "active"}
    assert [(m["local_project"], m["partner_project"]) for m in made["mappings"]] == [("ALPHA", "BETA"),
                                                                                        ("WEB", "API")]
    assert set(made["mappings"][0]["issue_types"]) == {"Epic", "Task", "Bug", "Sub-task"}  # the shared names

    # Both sites say so through their own admin APIs, not through what qa_connect printed.
    sync_id = made["id"]
    assert _api(beta, token, f"/synchronizations/{sync_id}/").json()["status"] == "active"
    assert Api(alpha).status_of(sync_id) == "active"
    on_beta = _api(beta, token, f"/synchronizations/{sync_id}/mappings/").json()
    assert sorted((m["local_project"], m["partner_project"], m["enabled"]) for m in on_beta) == [
        ("API", "WEB", True), ("BETA", "ALPHA", True)]


def test_qa_connect_without_mappings_maps_the_main_projects_and_reuse_makes_nothing_new(stacks: LiveSites) -> None:
    token = _token(stacks["beta"])
    made = _connect(stacks, token, "--name", "Default mapping")
    assert made["name"] == "Default mapping" and made["status"][BETA] == "active"
    assert [(m["local_project"], m["partner_project"]) for m in made["mappings"]] == [("ALPHA", "BETA")]

    again = _connect(stacks, token, "--reuse")
    assert again["reused"] is True and again["status"][BETA] == "active"
    listed = Api(stacks["alpha"]).get("/synchronizations/?limit=500").json()["results"]
    assert made["id"] in {s["id"] for s in listed}
    assert len(listed) == len({s["id"] for s in listed})


def test_qa_connect_with_no_mapping_stops_at_not_configured_on_both(stacks: LiveSites) -> None:
    made = _connect(stacks, _token(stacks["beta"]), "--no-mapping")
    assert made["status"] == {stacks["alpha"].address: "not_configured", BETA: "not_configured"}
    assert made["mappings"] == []


@pytest.mark.parametrize(("args", "error"), [
    (("--partner-token", "0" * 40), "beta.atlassian.net refused the API token"),
    (("--mapping", "ALPHA=NOPE"), "NOPE is not a project of https://beta.atlassian.net"),
    (("--mapping", "ALPHA"), "write THIS_PROJECT=PARTNER_PROJECT"),
])
def test_qa_connect_refuses_bad_input_before_making_anything(stacks: LiveSites, args: tuple[str, ...],
                                                             error: str) -> None:
    alpha = stacks["alpha"]
    before = Api(alpha).get("/synchronizations/?limit=1").json()["count"]
    token = _token(stacks["beta"])
    r = alpha.manage("qa_connect", "--partner", BETA, "--partner-token", token, *args, check=False)
    assert r.returncode != 0
    assert error in r.stderr
    assert "Traceback" not in r.stderr
    assert Api(alpha).get("/synchronizations/?limit=1").json()["count"] == before


def test_the_example_script_of_docs_qa_runs_as_written(stacks: LiveSites, tmp_path: Path) -> None:
    (script,) = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "qa.md").read_text(), re.S)
    (tmp_path / "cross_site_check.py").write_text(script)
    alpha, beta = stacks["alpha"], stacks["beta"]
    env = {"PATH": os.environ["PATH"], "ALPHA_URL": alpha.url, "BETA_URL": beta.url,
           "ALPHA_TOKEN": _token(alpha), "BETA_TOKEN": _token(beta)}
    r = subprocess.run([sys.executable, "cross_site_check.py"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    sync_id = r.stdout.split()[-1]
    assert r.stdout.startswith("OK") and Api(alpha).status_of(sync_id) == "deleted"


def test_reset_site_returns_to_the_seeded_state_and_twice_gives_the_same_data(stacks: LiveSites) -> None:
    alpha, beta = stacks["alpha"], stacks["beta"]
    alpha_key, beta_key = _key_id(alpha), _key_id(beta)
    token, alpha_token = _token(beta), _token(alpha)
    _connect(stacks, token, "--mapping", "ALPHA=BETA")
    # Things the seed alone would not undo: a renamed project, an extra user, a changed password.
    alpha.manage("shell", "-c", "from jira.models import Project; from django.contrib.auth.models import User; "
                               "Project.objects.filter(key='ALPHA').update(name='Renamed'); "
                               "User.objects.create_user('extra', password='x'); "
                               "u = User.objects.get(username='admin'); u.set_password('changed'); u.save()")

    first = alpha.manage("reset_site")
    assert "reset to its seeded state; kept its signing key" in first.stdout
    once = _data(alpha)
    assert not [r for r in once if r[0].startswith(("synchronizations.", "mappings.", "invitations.outbox",
                                                    "invitations.inbound", "sessions."))]
    assert ("jira.project", "1", json.dumps({"key": "ALPHA", "name": "Alpha Platform", "project_type": "software"},
                                           sort_keys=True)) in once
    usernames = sorted(json.loads(r[2])["username"] for r in once if r[0] == "auth.user")
    assert "extra" not in usernames and {"admin", "member"} <= set(usernames)
    assert usernames == sorted(json.loads(r[2])["username"] for r in SEEDED["alpha"] if r[0] == "auth.user")
    assert _key_id(alpha) == alpha_key
    Api(alpha)  # admin / admin logs in again

    alpha.manage("reset_site")  # again, after a login (a session row)
    assert _data(alpha) == once
    # A new site's rows, and the admin's API token kept.
    assert [r for r in once if r[0] != "authtoken.token"] == SEEDED["alpha"]
    assert [r[1] for r in once if r[0] == "authtoken.token"] == [alpha_token]

    # beta keeps its key and the admin's token across a reset; --new-keys replaces both.
    beta.manage("reset_site")
    assert _key_id(beta) == beta_key
    r = _api(beta, token, "/synchronizations/")
    assert r.status_code == 200 and r.json()["count"] == 0
    assert "made a new signing key" in beta.manage("reset_site", "--new-keys").stdout
    assert _key_id(beta) != beta_key
    assert _api(beta, token, "/synchronizations/").status_code in (401, 403)

    # Both sites reset: the same scenario runs again from scratch.
    alpha.manage("reset_site")
    TOKENS.pop("beta")
    made = _connect(stacks, _token(beta), "--mapping", "ALPHA=BETA")
    assert made["status"][BETA] == "active"

