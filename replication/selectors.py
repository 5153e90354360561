"""Reads for the Errors view, the list's count, the API and the issue's Issue Sync panel."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import Count, QuerySet
from django.urls import reverse

from jira.models import Issue
from replication.models import IssueLink, LinkState, SyncControl
from synchronizations.models import Synchronization


def issue_errors(sync: Synchronization) -> QuerySet[IssueLink]:
    return IssueLink.objects.filter(synchronization=sync, state=LinkState.ERROR).order_by("-error_at", "pk")


def error_counts(sync_ids: Iterable[Any]) -> dict[str, int]:
    """Issues in error per synchronization, for a page of the list: one query."""
    rows = (IssueLink.objects.filter(synchronization_id__in=list(sync_ids), state=LinkState.ERROR)
            .values("synchronization_id").annotate(n=Count("pk")))
    return {str(r["synchronization_id"]): int(r["n"]) for r in rows}


def link_row(link: IssueLink) -> dict[str, Any]:
    return {
        "id": link.pk, "synchronization": str(link.synchronization_id), "issue_key": link.local_key,
        "partner_key": link.partner_key, "partner_issue_id": link.partner_issue_id, "state": link.state,
        "state_label": LinkState(link.state).label, "error": link.error, "where": link.error_where,
        "when": link.error_at.isoformat() if link.error_at else None, "attempts": link.attempts,
        "waiting_fields": sorted(link.pending), "partner_gone": link.partner_gone,
        "last_synchronized": link.last_synced_at.isoformat() if link.last_synced_at else None,
    }


def issue_sync_summary(sync: Synchronization) -> dict[str, Any]:
    counts = {s: 0 for s in LinkState.values}
    for row in IssueLink.objects.filter(synchronization=sync).values("state").annotate(n=Count("pk")):
        counts[row["state"]] = int(row["n"])
    paused = SyncControl.objects.filter(synchronization=sync, paused=True).exists()
    return {"paused": paused, "issues": counts, "issues_in_error": counts[LinkState.ERROR]}


def issue_panel(issue: Issue) -> list[dict[str, Any]]:
    """One entry per synchronization the issue is linked through, for its Issue Sync panel."""
    from replication.services import issue_url

    rows = []
    for link in IssueLink.objects.filter(local_issue_id=str(issue.pk)).select_related("synchronization"):
        sync = link.synchronization
        row = link_row(link)
        paused = SyncControl.objects.filter(synchronization=sync, paused=True).exists()
        if paused or sync.status != "active":
            row["state"], row["state_label"] = LinkState.PAUSED, LinkState.PAUSED.label
        row["partner"] = sync.partner_address
        row["partner_url"] = issue_url(link.partner_key, sync.partner_address) if link.partner_key else ""
        row["synchronization_name"] = sync.name
        row["last_synced_at"] = link.last_synced_at  # the page shows it as a date, the API as ISO 8601
        rows.append(row)
    return rows


def row_notes(syncs: Sequence[Synchronization]) -> dict[str, list[tuple[str, str]]]:
    """The list page's count of issues in error, per synchronization (one query for the page)."""
    counts = error_counts(s.pk for s in syncs)
    placeholder = "00000000-0000-0000-0000-000000000000"
    url = reverse("replication:errors", kwargs={"pk": placeholder})
    return {pk: [(f"{n} issue{'s' if n != 1 else ''} in error", url.replace(placeholder, pk))]
            for pk, n in counts.items() if n}


def detail_context(sync: Synchronization) -> dict[str, Any]:
    summary = issue_sync_summary(sync)
    from replication.runs import runs_context

    return {"issue_sync": {**summary, "linked": sum(summary["issues"].values()),
                           "errors_url": reverse("replication:errors", kwargs={"pk": sync.pk})},
            "existing_issues": runs_context(sync)}
