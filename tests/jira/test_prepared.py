"""issuesync.prepared: a query built once gives what the ORM gives, run after run, with new values; and a
model's saves (PreparedSave) write what the ORM writes."""
from __future__ import annotations

import datetime
import time
import uuid
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, F, OuterRef
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from invitations.models import OutboxMessage
from issuesync.prepared import Param, Prepared
from jira import services
from jira.models import Changelog, Issue, Priority
from jira.signals import Origin
from tests.jira.conftest import Site

ISSUE = Issue._meta.pk
RELATED = ("project", "issue_type", "status", "priority", "assignee", "reporter")


def _create(site: Site, summary: str, **fields: Any) -> Issue:
    return services.issue_create(actor=site.member, origin=Origin.person(site.member.pk), fields={
        "project": {"key": "ALPHA"}, "issuetype": {"name": "Bug"}, "summary": summary, **fields})


def _same(a: Issue | None, b: Issue) -> None:
    assert a is not None
    assert {f.attname: getattr(a, f.attname) for f in Issue._meta.concrete_fields} == \
        {f.attname: getattr(b, f.attname) for f in Issue._meta.concrete_fields}
    for name in RELATED:
        assert Issue._meta.get_field(name).is_cached(a), name  # type: ignore[union-attr]  # read with the issue, as select_related does
        assert getattr(a, name) == getattr(b, name)
        if getattr(a, name) is not None:
            assert getattr(a, name).__dict__.keys() - {"_state"} == getattr(b, name).__dict__.keys() - {"_state"}


def test_it_reads_what_the_orm_reads_with_the_related_rows_and_new_values_each_run(site: Site) -> None:
    first = _create(site, "First")
    second = _create(site, "Second", assignee={"accountId": services.account_id_for("grace")})
    by_pk = Prepared(lambda: Issue.objects.select_related(*RELATED).filter(pk=Param("pk", ISSUE)))
    for issue in (first, second, first):
        _same(by_pk.first(pk=issue.pk), Issue.objects.select_related(*RELATED).get(pk=issue.pk))
    assert [i.assignee for i in by_pk.all(pk=first.pk) + by_pk.all(pk=second.pk)] == [None, site.other]
    assert by_pk.first(pk=10**9) is None and by_pk.all(pk=10**9) == []


def test_it_keeps_the_orders_values_written_in_the_query_and_annotations(site: Site) -> None:
    issues = [_create(site, f"Issue {n}") for n in range(3)]
    _create(site, "Other")
    services.issue_update(actor=site.member, origin=Origin.person(site.member.pk), issue=issues[1],
                          update={"labels": [{"add": "safari"}]})
    labelled = Prepared(lambda: Issue.objects.filter(project__key=Param("project", Issue._meta.get_field("key")),
                                                     summary__startswith="Issue").annotate(
        labelled=Exists(Changelog.objects.filter(issue=OuterRef("pk"), items__0__fieldId="labels")))
        .order_by("-number"))
    assert [(i.key, getattr(i, "labelled")) for i in labelled.all(project="ALPHA")] == [  # noqa: B009
        ("ALPHA-3", False), ("ALPHA-2", True), ("ALPHA-1", False)]
    assert labelled.all(project="WEB") == []
    assert getattr(labelled.first(project="ALPHA"), "key") == "ALPHA-3"  # noqa: B009


@pytest.mark.django_db(transaction=True)  # outside any transaction, as a request is before it opens one
def test_a_locking_query_runs_only_in_a_transaction_and_each_run_is_one_statement(site: Site) -> None:
    """As the ORM: refused outside a transaction where the database locks rows (SQLite locks none)."""
    issue = _create(site, "Locked")
    locked = Prepared(lambda: Issue.objects.select_for_update(of=("self",)).select_related(*RELATED)
                      .filter(pk=Param("pk", ISSUE)))

    def outside() -> None:
        if connection.features.has_select_for_update:
            with pytest.raises(TransactionManagementError):
                locked.first(pk=issue.pk)
        else:
            assert locked.first(pk=issue.pk) == issue

    outside()
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert locked.first(pk=issue.pk) == issue
        assert [i.project.key for i in locked.all(pk=issue.pk)] == ["ALPHA"]
    assert len(queries) == 2
    assert ("FOR UPDATE" in queries[0]["sql"]) == connection.features.has_select_for_update
    outside()  # built now; still refused outside a transaction


def test_it_takes_a_fraction_of_the_orms_time_to_build_a_run(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    """Not a timed assertion: prints both, for the record; asserts only that the results agree."""
    issue = _create(site, "Timed")
    prepared = Prepared(lambda: services.issues_locked().filter(pk=Param("pk", ISSUE)))
    with transaction.atomic():
        timings = {}
        for name, run in (("orm", lambda: services.issues_locked().filter(pk=issue.pk).first()),
                          ("prepared", lambda: prepared.first(pk=issue.pk))):
            _same(run(), issue if name == "orm" else services.issues_locked().get(pk=issue.pk))
            start = time.perf_counter()
            for _ in range(200):
                run()
            timings[name] = (time.perf_counter() - start) / 200 * 1000
    with capsys.disabled():
        print(f"\nissue read with 6 related rows, locked: ORM {timings['orm']:.3f} ms, "
              f"Prepared {timings['prepared']:.3f} ms")


def _row(issue: Issue) -> dict[str, Any]:
    fresh = Issue.objects.get(pk=issue.pk)  # through the ORM's own read
    return {f.attname: getattr(fresh, f.attname) for f in Issue._meta.concrete_fields}


def test_a_save_writes_each_field_as_the_orm_would_and_only_the_fields_named(site: Site) -> None:
    issue = _create(site, "Saved", description={"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Steps"}]}]})
    assert _row(issue) == {f.attname: getattr(issue, f.attname) for f in Issue._meta.concrete_fields}
    issue.summary, issue.labels_text, issue.custom_fields = "Changed", " a b ", {"customfield_1": [1, "x", None]}
    issue.due_date, issue.priority, issue.assignee = datetime.date(2026, 12, 24), None, site.other
    issue.description = None  # a JSON field's None is SQL NULL, as the ORM writes it
    issue.version += 1
    issue.save()
    row = _row(issue)
    assert row == {f.attname: getattr(issue, f.attname) for f in Issue._meta.concrete_fields}
    assert (row["description"], row["description_text"], row["priority_id"]) == (None, "", None)  # Issue.save's own
    issue.summary, issue.labels_text = "Only this", " c "
    issue.priority = Priority.objects.order_by("pk").first()
    issue.save(update_fields=["summary", "priority"])
    assert (_row(issue)["summary"], _row(issue)["labels_text"], _row(issue)["priority_id"]) == \
        ("Only this", " a b ", issue.priority_id)


def test_a_save_that_finds_no_row_does_what_the_orm_does(site: Site) -> None:
    issue = _create(site, "Gone")
    pk = issue.pk
    Issue.objects.filter(pk=pk).delete()
    with pytest.raises(DatabaseError, match="did not affect any rows"), transaction.atomic():
        issue.save(update_fields=["summary"])
    issue.save()  # no row to update: inserted again, under the same id
    assert _row(issue)["summary"] == "Gone" and Issue.objects.get(pk=pk).key == issue.key


def test_a_value_that_is_an_expression_goes_through_the_orm(site: Site) -> None:
    issue = _create(site, "Counted")
    version = issue.version
    issue.version = F("version") + 2  # type: ignore[assignment]
    issue.save(update_fields=["version"])
    issue.refresh_from_db()
    assert issue.version == version + 2


@pytest.mark.django_db(transaction=True)
def test_an_insert_returns_its_new_id_and_each_save_is_one_statement_written_once(site: Site) -> None:
    issue = _create(site, "Logged")
    with CaptureQueriesContext(connection) as queries:
        made = [Changelog.objects.create(issue=issue, author=None, created=issue.created, origin_kind="person",
                                         items=[{"fieldId": "summary", "toString": str(n)}]) for n in range(2)]
    assert len(queries) == 2 and queries[0]["sql"].split(" VALUES ")[0] == queries[1]["sql"].split(" VALUES ")[0]
    assert all(isinstance(c.pk, int) for c in made) and made[0].pk != made[1].pk
    assert [c.items[0]["toString"] for c in Changelog.objects.filter(pk__in=[c.pk for c in made])
            .order_by("pk")] == ["0", "1"]
    # A primary key the model makes (a UUID), bytes and times: as given, nothing returned.
    now = datetime.datetime(2026, 12, 7, 12, 0, 0, 123456, tzinfo=datetime.UTC)
    message = OutboxMessage(synchronization_id=uuid.uuid4(), sequence=1, message_type="issue_state",
                            recipient="https://beta.example", body=b"{\"a\": \"\\u00e9\"}\x00", next_attempt_at=now,
                            give_up_at=now, created_at=now)
    message.save(force_insert=True)
    stored = OutboxMessage.objects.get(pk=message.pk)
    assert (bytes(stored.body), stored.created_at, stored.state, stored.claim) == (
        bytes(message.body), now, "pending", None)
