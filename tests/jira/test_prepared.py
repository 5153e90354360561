"""issuesync.prepared: a query built once gives what the ORM gives, run after run, with new values."""
from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from issuesync.prepared import Param, Prepared
from jira import services
from jira.models import Changelog, Issue
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
