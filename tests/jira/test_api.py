"""The slice of Jira Cloud's REST API v3: project search pages like Jira's."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from jira.models import IssueType, Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def member_client(client: Client) -> Client:
    client.force_login(User.objects.create_user("member", password="member"))
    for i in range(5):
        Project.objects.create(key=f"P{i}", name=f"Project {i}")
    return client


def test_it_pages_the_project_search(member_client: Client) -> None:
    first = member_client.get("/rest/api/3/project/search", {"startAt": 0, "maxResults": 2}).json()
    assert (first["startAt"], first["maxResults"], first["total"], first["isLast"]) == (0, 2, 5, False)
    assert [p["key"] for p in first["values"]] == ["P0", "P1"]
    last = member_client.get("/rest/api/3/project/search", {"startAt": 4, "maxResults": 2}).json()
    assert [p["key"] for p in last["values"]] == ["P4"]
    assert last["isLast"] is True
    beyond = member_client.get("/rest/api/3/project/search", {"startAt": 10}).json()
    assert beyond["values"] == [] and beyond["isLast"] is True
    assert {"id", "key", "name", "projectTypeKey", "self"} <= set(first["values"][0])


def test_it_defaults_and_clamps_bad_paging_instead_of_failing(member_client: Client) -> None:
    r = member_client.get("/rest/api/3/project/search", {"startAt": "x", "maxResults": "1000"})
    assert r.status_code == 200
    assert (r.json()["startAt"], r.json()["maxResults"], len(r.json()["values"])) == (0, 100, 5)
    assert member_client.get("/rest/api/3/project/search", {"maxResults": "0"}).json()["maxResults"] == 1


def test_it_lists_issue_types(member_client: Client) -> None:
    IssueType.objects.create(name="Sub-task", subtask=True, hierarchy_level=-1)
    IssueType.objects.create(name="Bug")
    names = [(t["name"], t["subtask"]) for t in member_client.get("/rest/api/3/issuetype").json()]
    assert names == [("Sub-task", True), ("Bug", False)]


def test_it_needs_a_logged_in_user(client: Client) -> None:
    assert client.get("/rest/api/3/project/search").status_code in (401, 403)
