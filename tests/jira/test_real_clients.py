"""The widely used Python Jira clients work unchanged against a live site (gunicorn, PostgreSQL).

`jira` (pycontribs) and `atlassian-python-api`, both with an API token made by
`manage.py api_token`: the calls a QA script makes, from connecting to adding a remote link.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from atlassian import Jira as AtlassianJira

from tests.live import LiveSites

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def site(pg_template: str) -> Iterator[tuple[str, str]]:
    """One live site (web only) and a member's API token: (url, token)."""
    sites = LiveSites(pg_template, names=("alpha",), LOG_LEVEL="WARNING")
    try:
        alpha = sites["alpha"]
        token = alpha.manage("api_token", "member").stdout.strip()
        alpha.start("web")
        alpha.wait_healthy(timeout=60)
        yield alpha.url, token
    finally:
        sites.drop()


def test_the_pycontribs_client_works_unchanged(site: tuple[str, str], tmp_path: Path) -> None:
    # The client's package is also called `jira`, like the site's app: it runs in its own interpreter,
    # started outside the project so that `import jira` finds the client (see pycontribs_session.py).
    url, token = site
    r = subprocess.run([sys.executable, str(Path(__file__).with_name("pycontribs_session.py")), url, token],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")})
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().endswith("all steps passed")


def test_the_atlassian_python_api_client_works_unchanged(site: tuple[str, str]) -> None:
    url, token = site
    jira = AtlassianJira(url=url, username="member@example.com", password=token, cloud=True)
    assert jira.myself()["displayName"] == "Team Member"
    assert {"ALPHA", "WEB"} <= {p["key"] for p in jira.projects() or []}
    assert "summary" in {f["id"] for f in jira.get_all_fields() or []}
    assert "Bug" in {t["name"] for t in jira.get_issue_types() or []}

    created = jira.create_issue(fields={"project": {"key": "WEB"}, "issuetype": {"name": "Task"},
                                        "summary": "Footer links are stale"})
    key = created["key"]
    jira.update_issue_field(key, {"summary": "Footer links are stale on mobile", "labels": ["mobile"]})
    assert jira.get_issue(key)["fields"]["summary"] == "Footer links are stale on mobile"

    comment = jira.issue_add_comment(key, "Seen on the home page")
    jira.issue_edit_comment(key, comment["id"], "Seen on every page")
    comments = jira.issue_get_comments(key)
    assert comments is not None and [c["body"] for c in comments["comments"]] == ["Seen on every page"]

    assert [t["to"] for t in jira.get_issue_transitions(key)] == ["In Progress"]
    jira.set_issue_status(key, "In Progress")
    assert jira.get_issue_status(key) == "In Progress"

    page = jira.enhanced_jql("project = WEB ORDER BY key ASC", limit=5, fields="summary")
    assert len(page["issues"]) == 5 and page["nextPageToken"]
    after = jira.enhanced_jql("project = WEB ORDER BY key ASC", limit=5, fields="summary",
                              nextPageToken=page["nextPageToken"])
    assert not {i["key"] for i in page["issues"]} & {i["key"] for i in after["issues"]}

    changelog = jira.get_issue_changelog(key)
    assert changelog["total"] == 2 and changelog["values"][-1]["items"][0]["toString"] == "In Progress"

    jira.create_or_update_issue_remote_links(key, "https://beta.atlassian.net/browse/BETA-9", "BETA-9",
                                             global_id="beta:10009")
    jira.create_or_update_issue_remote_links(key, "https://beta.atlassian.net/browse/BETA-9", "BETA-9 Footer",
                                             global_id="beta:10009")
    links = jira.get_issue_remotelinks(key)
    assert [(link["globalId"], link["object"]["title"]) for link in links] == [("beta:10009", "BETA-9 Footer")]


def test_an_anonymous_call_gets_401_in_jira_s_shape(site: tuple[str, str]) -> None:
    url, _ = site
    r = requests.get(url + "/rest/api/3/issue/ALPHA-1", timeout=10)
    assert r.status_code == 401 and set(r.json()) == {"errorMessages", "errors"}
