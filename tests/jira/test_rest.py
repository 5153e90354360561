"""The REST API v3 and v2 in Jira Cloud's shapes: auth, issues, transitions, comments, search, errors."""
from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.contrib.auth.signals import user_login_failed
from django.test import Client

from jira import services
from jira.models import Changelog, Comment, Issue
from jira.signals import Origin
from tests.jira.conftest import Site

pytestmark = pytest.mark.django_db


class Api:
    """A client that speaks to /rest/api/N with HTTP Basic email:token, as Jira Cloud scripts do."""

    def __init__(self, client: Client, email: str, token: str, version: str = "3") -> None:
        self.client, self.version = client, version
        self.auth = "Basic " + base64.b64encode(f"{email}:{token}".encode()).decode()

    def __call__(self, method: str, path: str, body: Any = None, raw: str | None = None, **params: Any) -> Any:
        url = f"/rest/api/{self.version}/{path}"
        kwargs: dict[str, Any] = {"HTTP_AUTHORIZATION": self.auth}
        if method == "get":
            return self.client.get(url, params, **kwargs)
        data = raw if raw is not None else json.dumps(body) if body is not None else ""
        if params:
            url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
        return getattr(self.client, method)(url, data=data, content_type="application/json", **kwargs)


@pytest.fixture
def api(site: Site, client: Client) -> Api:
    _, token = services.api_token_create(user=site.member, label="tests")
    return Api(client, "member@example.com", token)


@pytest.fixture
def admin_api(site: Site) -> Api:
    _, token = services.api_token_create(user=site.admin, label="tests")
    return Api(Client(), "admin@example.com", token)


def _create(api: Api, **fields: Any) -> dict[str, Any]:
    r = api("post", "issue", {"fields": {"project": {"key": "ALPHA"}, "issuetype": {"name": "Bug"},
                                         "summary": "Crash on save", **fields}})
    assert r.status_code == 201, r.content
    return r.json()


def test_it_authenticates_email_and_token_and_refuses_anything_else(site: Site, api: Api, client: Client) -> None:
    me = api("get", "myself").json()
    assert me["emailAddress"] == "member@example.com" and me["accountId"] == site.member.jira_profile.account_id
    failures: list[dict[str, Any]] = []
    user_login_failed.connect(lambda sender, credentials, **kw: failures.append(credentials), weak=False,
                              dispatch_uid="t")
    try:
        for auth in (Api(client, "member@example.com", "wrong"), Api(client, "admin@example.com", api.auth),
                     Api(client, "member", "member")):  # a password is not a token
            r = auth("get", "myself")
            assert r.status_code == 401 and r["WWW-Authenticate"].startswith("Basic")
            assert r.json()["errorMessages"] and r.json()["errors"] == {}
    finally:
        user_login_failed.disconnect(dispatch_uid="t")
    assert len(failures) == 2  # every failed token login went through django.contrib.auth.authenticate
    assert client.get("/rest/api/3/myself").status_code == 401
    assert client.get("/rest/api/2/serverInfo").json()["deploymentType"] == "Cloud"
    client.force_login(site.member)
    assert client.get("/rest/api/3/myself").json()["displayName"] == "Team Member"


def test_it_creates_reads_and_edits_an_issue_in_v3_shapes(site: Site, api: Api) -> None:
    created = _create(api, description={"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Steps"}]}]}, labels=["ui"],
        priority={"name": "High"}, **{site.severity.field_id: {"value": "Critical"}})
    assert created["key"] == "ALPHA-1" and created["id"].isdigit()
    assert created["self"] == f"http://testserver/rest/api/3/issue/{created['id']}"
    r = api("put", f"issue/{created['key']}", {"fields": {"summary": "Crash on save (Safari)"},
                                                "update": {"labels": [{"add": "safari"}]}})
    assert r.status_code == 204
    issue = api("get", "issue/ALPHA-1", expand="changelog,names").json()
    fields = issue["fields"]
    assert fields["summary"] == "Crash on save (Safari)" and fields["labels"] == ["ui", "safari"]
    assert fields["status"]["statusCategory"]["key"] == "new" and fields["priority"]["name"] == "High"
    assert fields["description"]["content"][0]["content"][0]["text"] == "Steps"
    assert fields[site.severity.field_id]["value"] == "Critical"
    assert issue["names"]["summary"] == "Summary" and issue["names"][site.severity.field_id] == "Severity"
    [history] = issue["changelog"]["histories"]
    assert {i["field"] for i in history["items"]} == {"summary", "labels"}
    some = api("get", f"issue/{created['id']}", fields="summary,labels").json()
    assert set(some["fields"]) == {"summary", "labels"}


def test_v2_speaks_plain_text_bodies(site: Site, api: Api) -> None:
    v2 = Api(api.client, "member@example.com", "", "2")
    v2.auth = api.auth
    created = v2("post", "issue", {"fields": {"project": {"key": "ALPHA"}, "issuetype": {"name": "Bug"},
                                              "summary": "Plain", "description": "line one\nline two"}}).json()
    assert v2("get", f"issue/{created['key']}").json()["fields"]["description"] == "line one\nline two"
    v3_doc = api("get", f"issue/{created['key']}").json()["fields"]["description"]
    assert [p["content"][0]["text"] for p in v3_doc["content"]] == ["line one", "line two"]
    assert v2("post", f"issue/{created['key']}/comment", {"body": "Seen"}).json()["body"] == "Seen"
    refused = v2("post", "issue", {"fields": {"project": {"key": "ALPHA"}, "issuetype": {"name": "Bug"},
                                              "summary": "ADF on v2", "description": v3_doc}})
    assert refused.status_code == 400 and "description" in refused.json()["errors"]


@pytest.mark.parametrize(("body", "raw", "field"), [
    ({"fields": {"frobnicate": 1}}, None, "frobnicate"),
    ({"fields": {"customfield_XX": {"value": "Nope"}}}, None, "customfield_XX"),
    ({"fields": {"summary": "x" * 50_000}}, None, "summary"),
    ({"fields": {"project": {"key": "NOPE"}}}, None, "project"),
    ({"fields": {"description": {"type": "doc", "version": 1, "content": [{"type": "para"}]}}}, None, "description"),
    (None, '{"fields": {"summary": ', None),
    (None, "[1, 2]", None),
])
def test_bad_input_gets_jira_s_error_shape_and_changes_nothing(site: Site, api: Api, body: Any, raw: str | None,
                                                               field: str | None) -> None:
    if body and "customfield_XX" in body["fields"]:
        body = {"fields": {site.severity.field_id: {"value": "Nope"}}}
        field = site.severity.field_id
    base = {"project": {"key": "ALPHA"}, "issuetype": {"name": "Bug"}, "summary": "Crash"}
    r = api("post", "issue", {"fields": {**base, **body["fields"]}} if body else None, raw=raw)
    assert r.status_code == 400
    assert set(r.json()) == {"errorMessages", "errors"}
    if field:
        assert field in r.json()["errors"]
    else:
        assert r.json()["errorMessages"]
    assert not Issue.objects.exists()


def test_a_bad_edit_or_transition_changes_nothing(site: Site, api: Api) -> None:
    key = _create(api)["key"]
    before = api("get", f"issue/{key}").json()
    r = api("put", f"issue/{key}", {"fields": {"summary": "New", site.severity.field_id: {"value": "Nope"}}})
    assert r.status_code == 400 and site.severity.field_id in r.json()["errors"]
    assert api("put", f"issue/{key}", {"fields": {"status": {"name": "Done"}}}).status_code == 400
    reopen = Issue.objects.get().project.transitions.get(name="Reopen")
    r = api("post", f"issue/{key}/transitions", {"transition": {"id": str(reopen.pk)}})
    assert r.status_code == 400 and "not valid for this issue" in r.json()["errorMessages"][0]
    assert api("put", f"issue/{key}", raw="{oops").status_code == 400
    assert api("get", f"issue/{key}").json() == before
    assert not Changelog.objects.exists()


def test_transitions_are_listed_and_performed(site: Site, api: Api) -> None:
    key = _create(api)["key"]
    [start] = api("get", f"issue/{key}/transitions").json()["transitions"]
    assert start["name"] == "Start progress" and start["to"]["statusCategory"]["key"] == "indeterminate"
    r = api("post", f"issue/{key}/transitions", {"transition": {"id": start["id"]},
                                                 "update": {"comment": [{"add": {"body": "Starting"}}]}})
    assert r.status_code == 204
    assert api("get", f"issue/{key}").json()["fields"]["status"]["name"] == "In Progress"
    assert Comment.objects.get().body["content"][0]["content"][0]["text"] == "Starting"
    changelog = api("get", f"issue/{key}/changelog").json()
    assert changelog["total"] == 1 and changelog["values"][0]["items"][0]["toString"] == "In Progress"


def test_comments_follow_the_permission_model(site: Site, api: Api, admin_api: Api, client: Client) -> None:
    key = _create(api)["key"]
    comment = api("post", f"issue/{key}/comment", {"body": {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Mine"}]}]}}).json()
    _, token = services.api_token_create(user=site.other, label="t")
    other = Api(Client(), "grace@example.com", token)
    r = other("put", f"issue/{key}/comment/{comment['id']}", {"body": "Not yours"})
    assert r.status_code == 403 and r.json()["errorMessages"]
    assert api("put", f"issue/{key}/comment/{comment['id']}", {"body": "Edited"}).status_code == 200
    listed = api("get", f"issue/{key}/comment").json()
    assert listed["total"] == 1 and listed["comments"][0]["body"]["content"][0]["content"][0]["text"] == "Edited"
    assert admin_api("delete", f"issue/{key}/comment/{comment['id']}").status_code == 204
    assert api("get", f"issue/{key}/comment/{comment['id']}").status_code == 404


def test_only_an_administrator_deletes_an_issue(site: Site, api: Api, admin_api: Api) -> None:
    key = _create(api)["key"]
    r = api("delete", f"issue/{key}")
    assert r.status_code == 403 and Issue.objects.exists()
    assert admin_api("delete", f"issue/{key}").status_code == 204
    r = api("get", f"issue/{key}")
    assert r.status_code == 404
    assert r.json() == {"errorMessages": ["Issue does not exist or you do not have permission to see it."],
                        "errors": {}}


def test_remote_links_are_upserted_by_global_id(site: Site, api: Api) -> None:
    key = _create(api)["key"]
    target = {"url": "https://beta.atlassian.net/browse/BETA-1", "title": "BETA-1"}
    link = {"globalId": "beta:10001", "object": target}
    first = api("post", f"issue/{key}/remotelink", link)
    target["title"] = "BETA-1 Crash"
    again = api("post", f"issue/{key}/remotelink", link)
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    [shown] = api("get", f"issue/{key}/remotelink").json()
    assert shown["globalId"] == "beta:10001" and shown["object"]["title"] == "BETA-1 Crash"


def test_search_pages_by_token_and_by_start_at(site: Site, api: Api) -> None:
    for n in range(7):
        _create(api, summary=f"Issue {n}", labels=["even"] if n % 2 == 0 else [])
    _create(api, project={"key": "WEB"})
    seen, token = [], None
    while True:
        params: dict[str, Any] = {"jql": "project = ALPHA ORDER BY key ASC", "maxResults": 3, "fields": "summary"}
        if token:
            params["nextPageToken"] = token
        page = api("get", "search/jql", **params).json()
        seen += [i["key"] for i in page["issues"]]
        token = page.get("nextPageToken")
        if page["isLast"]:
            break
    assert seen == [f"ALPHA-{n}" for n in range(1, 8)]
    posted = api("post", "search/jql", {"jql": "labels = even AND project = ALPHA", "fields": ["summary"]}).json()
    assert len(posted["issues"]) == 4 and set(posted["issues"][0]["fields"]) == {"summary"}
    old = api("get", "search", jql="project = ALPHA ORDER BY created ASC", startAt=5, maxResults=5).json()
    assert (old["total"], old["startAt"], len(old["issues"])) == (7, 5, 2)
    bad = api("get", "search/jql", jql="project = ")
    assert bad.status_code == 400 and "ends too early" in bad.json()["errorMessages"][0]
    assert api("get", "search/jql", jql="nosuchfield = 1").status_code == 400
    assert api("get", "search/jql", jql="x", nextPageToken="garbage!").status_code == 400


def test_bulk_create_answers_per_issue(site: Site, api: Api) -> None:
    good = {"fields": {"project": {"key": "ALPHA"}, "issuetype": {"name": "Task"}, "summary": "One"}}
    r = api("post", "issue/bulk", {"issueUpdates": [good, {"fields": {"project": {"key": "NOPE"}}}, good]})
    body = r.json()
    assert r.status_code == 201 and [i["key"] for i in body["issues"]] == ["ALPHA-1", "ALPHA-2"]
    assert body["errors"][0]["failedElementNumber"] == 1 and "project" in body["errors"][0]["elementErrors"]["errors"]


def test_reference_data_endpoints(site: Site, api: Api) -> None:
    fields = {f["id"]: f for f in api("get", "field").json()}
    assert fields["summary"]["custom"] is False and fields[site.severity.field_id]["schema"]["type"] == "option"
    assert [p["name"] for p in api("get", "priority").json()] == ["Highest", "High", "Medium", "Low", "Lowest"]
    assert {"To Do", "Done"} <= {s["name"] for s in api("get", "status").json()}
    assert [u["displayName"] for u in api("get", "user/search", query="grace").json()] == ["Grace Hopper"]
    project = api("get", "project/ALPHA").json()
    assert project["key"] == "ALPHA" and {t["name"] for t in project["issueTypes"]} == {"Bug", "Task"}
    assert [p["key"] for p in api("get", "project").json()] == ["ALPHA", "WEB"]
    assert api("get", "project/NOPE").status_code == 404


def test_the_changelog_records_whether_a_token_or_a_person_made_the_change(site: Site, api: Api,
                                                                           client: Client) -> None:
    key = _create(api)["key"]
    api("put", f"issue/{key}", {"fields": {"summary": "By token"}})
    client.force_login(site.member)
    r = client.put(f"/rest/api/3/issue/{key}", data=json.dumps({"fields": {"summary": "By person"}}),
                   content_type="application/json")
    assert r.status_code == 204
    token_id = site.member.jira_api_tokens.get().pk
    assert list(Changelog.objects.order_by("pk").values_list("origin_kind", "origin_ref")) == [
        ("api_token", f"token:{token_id}"), ("person", "")]


def test_text_search_finds_words_of_the_summary_and_the_description_text(site: Site, api: Api) -> None:
    def keys(jql: str) -> set[str]:
        r = api("get", "search/jql", jql=jql, fields="summary", maxResults=100)
        assert r.status_code == 200, r.content
        return {i["key"] for i in r.json()["issues"]}

    doc = {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "The payment page times out"}]}]}
    found = _create(api, summary="Checkout fails", description=doc)["key"]
    other = _create(api, summary="Slow login", description="Nothing else")["key"]
    [bulk] = api("post", "issue/bulk", {"issueUpdates": [{"fields": {
        "project": {"key": "WEB"}, "issuetype": {"name": "Task"}, "summary": "Made in bulk",
        "description": "Refund button missing"}}]}).json()["issues"]
    assert keys('text ~ "payment"') == {found}  # the description's text
    assert keys('text ~ "CHECKOUT"') == {found}  # the summary, any case
    assert keys('text ~ "refund"') == {bulk["key"]}
    assert keys('text ~ "paragraph"') == set()  # the document's node names are not its text
    assert keys('description ~ "times out"') == {found} and keys('summary ~ "payment"') == set()
    assert keys('text !~ "payment" AND project = ALPHA') == {other}
    edit = api("put", f"issue/{found}", {"fields": {"description": "Card declined"}})
    assert edit.status_code == 204, edit.content
    assert keys('text ~ "payment"') == set() and keys('text ~ "declined"') == {found}
    assert Issue.objects.get(key=found).description_text == "Card declined"


def test_a_page_of_issues_names_its_people_with_the_same_queries_for_any_number(
        site: Site, admin_api: Api, django_assert_max_num_queries: Any) -> None:
    people = [site.admin, site.member, site.other]

    def search() -> list[dict[str, Any]]:
        r = admin_api("get", "search/jql", jql="project = ALPHA", fields="assignee,reporter", maxResults=100)
        assert r.status_code == 200, r.content
        return r.json()["issues"]  # type: ignore[no-any-return]

    def add(n: int) -> None:
        for i in range(n):
            services.issue_create(actor=people[i % 3], origin=Origin.person(site.admin.pk), fields={
                "project": {"key": "ALPHA"}, "issuetype": {"name": "Bug"}, "summary": f"Issue {i}",
                "assignee": None if i % 4 == 0 else {"accountId": people[(i + 1) % 3].jira_profile.account_id}})

    add(2)
    with django_assert_max_num_queries(30) as few:
        search()
    add(20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        issues = search()
    assert len(issues) == 22
    reporters = {i["fields"]["reporter"]["accountId"] for i in issues}
    assert reporters == {p.jira_profile.account_id for p in people}
    assert sum(1 for i in issues if i["fields"]["assignee"] is None) == 6
    shown = {i["fields"]["assignee"]["displayName"] for i in issues if i["fields"]["assignee"]}
    assert shown == {"Site Admin", "Team Member", "Grace Hopper"}
