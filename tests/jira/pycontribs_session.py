# mypy: ignore-errors
"""The pycontribs `jira` client against a live site: python pycontribs_session.py URL TOKEN.

Run by tests/jira/test_real_clients.py in its own interpreter, from outside the project: the client's
package and the site's app are both named `jira`, and here `import jira` must find the client.
"""
from __future__ import annotations

import sys

from jira import JIRA, JIRAError


def main(url: str, token: str) -> None:
    jira = JIRA(server=url, basic_auth=("member@example.com", token))
    assert jira.deploymentType == "Cloud"  # it read /rest/api/2/serverInfo when it connected
    assert jira.myself()["emailAddress"] == "member@example.com"
    assert {"ALPHA", "WEB", "OPS", "HELP"} <= {p.key for p in jira.projects()}
    assert "Bug" in {t.name for t in jira.issue_types()}
    fields = {f["name"]: f["id"] for f in jira.fields()}
    assert fields["Summary"] == "summary" and fields["Severity"].startswith("customfield_")

    issue = jira.create_issue(project="ALPHA", issuetype={"name": "Bug"}, summary="Checkout fails on Safari",
                              description="Steps:\nopen the cart", labels=["safari"])
    assert issue.key.startswith("ALPHA-") and issue.fields.status.name == "To Do"
    issue.update(fields={"summary": "Checkout fails on Safari 17", fields["Severity"]: {"value": "Major"}})
    issue = jira.issue(issue.key)
    assert issue.fields.summary == "Checkout fails on Safari 17"
    assert getattr(issue.fields, fields["Severity"]).value == "Major"
    assert issue.fields.description == "Steps:\nopen the cart"  # v2: plain text

    comment = jira.add_comment(issue, "Reproduced on 17.1")
    comment.update(body="Reproduced on 17.1 and 17.2")
    assert [c.body for c in jira.comments(issue)] == ["Reproduced on 17.1 and 17.2"]

    names = [t["name"] for t in jira.transitions(issue)]
    assert names == ["Start progress"]
    jira.transition_issue(issue, "Start progress")
    assert jira.issue(issue.key).fields.status.name == "In Progress"
    try:
        jira.transition_issue(issue, "99999")
        raise AssertionError("a transition the workflow does not have was accepted")
    except JIRAError as refused:
        assert refused.status_code == 400, refused

    first = jira.search_issues("project = ALPHA ORDER BY key ASC", maxResults=10)
    assert len(first) == 10
    second = jira.enhanced_search_issues("project = ALPHA ORDER BY key ASC", nextPageToken=first.nextPageToken,
                                         maxResults=10)
    assert not {i.key for i in first} & {i.key for i in second}
    everything = jira.enhanced_search_issues("project = ALPHA", maxResults=0)  # follows every nextPageToken
    assert issue.key in {i.key for i in everything} and len(everything) > 20

    histories = jira.issue(issue.key, expand="changelog").changelog.histories
    items = [(item.field, item.toString) for h in histories for item in h.items]
    assert ("summary", "Checkout fails on Safari 17") in items and ("status", "In Progress") in items

    jira.add_simple_link(issue, {"url": "https://beta.atlassian.net/browse/BETA-7", "title": "BETA-7"})
    [link] = jira.remote_links(issue)
    assert link.object.url == "https://beta.atlassian.net/browse/BETA-7"
    print("all steps passed")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
