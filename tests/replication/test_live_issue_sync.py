"""Issues between two live sites (web, worker, beat, PostgreSQL, Redis): create, edit, comment,
transition, redelivery, a status the partner's workflow cannot reach, Retry."""
from __future__ import annotations

import json
from typing import Any

import pytest

from sitectl import wait_for
from tests.replication.conftest import Pair

pytestmark = pytest.mark.live


def _create(pair: Pair, summary: str, **extra: Any) -> tuple[str, str]:
    fields = {"project": {"key": "ALPHA"}, "issuetype": {"name": "Bug"}, "summary": summary, **extra}
    made = pair.api("alpha", "POST", "issue", {"fields": fields}, expect=201)
    return str(made["id"]), str(made["key"])


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
    pair.api("beta", "PUT", f"issue/{copy}", {"fields": {"summary": "Crash on login (iOS 18)"}}, expect=204)
    wait_for(lambda: (pair.issue("alpha", key) or {}).get("summary") == "Crash on login (iOS 18)", timeout=15,
             what="alpha to get beta's summary")

    # A comment on each side appears once on the other, with its author and site.
    pair.api("alpha", "POST", f"issue/{key}/comment", {"body": "Seen on alpha"}, expect=201)
    pair.api("beta", "POST", f"issue/{copy}/comment", {"body": "Seen on beta"}, expect=201)
    wait_for(lambda: len(pair.comments("beta", copy)) == 2 and len(pair.comments("alpha", key)) == 2, timeout=20,
             what="each comment on the other side")
    assert any("wrote on alpha.atlassian.net" in c and "Seen on alpha" in c for c in pair.comments("beta", copy))
    assert any("wrote on beta.atlassian.net" in c and "Seen on beta" in c for c in pair.comments("alpha", key))

    # Transition on alpha: the mapped status on beta, through beta's own workflow.
    pair.transition("alpha", key, "In Progress")
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
    pair.transition("alpha", key, "In Progress")
    pair.transition("alpha", key, "Done")
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


def test_an_edit_and_a_comment_whose_process_stopped_after_the_commit_still_reach_the_partner(
        pair: Pair, active: str) -> None:
    pk, key = _create(pair, "Before the stop")
    copy = wait_for(lambda: pair.copy_key("beta", "https://alpha.atlassian.net", pk), timeout=30, what="the copy")
    assert isinstance(copy, str)
    # A process that commits its changes and stops before pushing them: here, one whose push is not connected
    # (the site's own after-commit receiver taken off), which then ends.
    pair.run("alpha", "from jira.signals import issue_changed\n"
                      "issue_changed.disconnect(dispatch_uid='replication.on_issue_changed')\n"
                      f"i = Issue.objects.get(key={key!r}).pk\n"
                      "s.issue_update(actor=u, origin=o, issue=i, fields={'summary': 'After the stop'})\n"
                      "s.comment_add(actor=u, origin=o, issue=i, body='Said before the stop', plain_text=True)\n")
    # The scheduler's sweep finds both (every 2 s in these sites, every 30 s by default).
    wait_for(lambda: (pair.issue("beta", copy) or {}).get("summary") == "After the stop", timeout=30,
             what="the edit on beta")
    wait_for(lambda: any("Said before the stop" in c for c in pair.comments("beta", copy)), timeout=30,
             what="the comment on beta")
    assert len(pair.comments("beta", copy)) == 1
