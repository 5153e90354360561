"""Reads for the pages and the API: constant query counts whatever the number of rows."""
from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet

from invitations.models import DeliveryState, InboundMessage, OutboxMessage
from jira.models import IssueType, Project
from synchronizations.models import Scope, Synchronization


def synchronization_list(*, status: str | None = None) -> QuerySet[Synchronization]:
    """The list in page order, rows only: nothing here may cost work per row skipped by OFFSET.

    Each page's delivery states come from `synchronization_deliveries` over that page's rows
    alone; computing them in this query (correlated subqueries) made PostgreSQL evaluate them
    for every row before the page's offset too.
    """
    qs = Synchronization.listed.all()
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-updated_at", "pk")


@dataclass(frozen=True)
class DeliveryInfo:
    state: str  # delivered | pending | failed
    attempts: int = 0
    next_attempt_at: datetime | None = None
    error: str = ""
    failed_message_id: uuid.UUID | None = None


def _delivery(undelivered: Sequence[OutboxMessage]) -> DeliveryInfo:
    """One synchronization's delivery state from its undelivered messages, oldest first."""
    if not undelivered:
        return DeliveryInfo("delivered")
    failed = [m for m in undelivered if m.state == DeliveryState.FAILED]
    if failed:
        return DeliveryInfo("failed", failed[0].attempts, None, failed[0].last_error, failed[0].id)
    m = undelivered[0]
    return DeliveryInfo("pending", m.attempts, m.next_attempt_at, m.last_error)


def _undelivered() -> QuerySet[OutboxMessage]:
    # Served by the partial index outbox_undelivered: only messages not delivered yet are in it.
    return (OutboxMessage.objects.exclude(state=DeliveryState.DELIVERED).order_by("synchronization_id", "sequence")
            .only("id", "synchronization_id", "sequence", "state", "attempts", "next_attempt_at", "last_error"))


def synchronization_delivery(sync: Synchronization) -> DeliveryInfo:
    return _delivery(list(_undelivered().filter(synchronization_id=sync.pk)))


def synchronization_deliveries(syncs: Iterable[Synchronization]) -> dict[uuid.UUID, DeliveryInfo]:
    """The delivery state of each of these synchronizations (a page of the list), in one query."""
    ids = [s.pk for s in syncs]
    undelivered: dict[uuid.UUID, list[OutboxMessage]] = defaultdict(list)
    if ids:
        for m in _undelivered().filter(synchronization_id__in=ids):
            undelivered[m.synchronization_id].append(m)
    return {pk: _delivery(undelivered.get(pk, [])) for pk in ids}


@dataclass(frozen=True)
class ScopeRow:
    """A scope as the API shows it: its choices and what they let the partner see."""

    mode: str
    projects: list[Project]
    issue_types: list[IssueType]
    visible: dict[str, Any]

    @classmethod
    def of(cls, scope: Scope) -> ScopeRow:
        return cls(scope.mode, list(scope.projects.all()), list(scope.issue_types.all()), scope.visible())


def scope_rows(syncs: Sequence[Synchronization]) -> dict[int, ScopeRow]:
    """The scopes of these synchronizations (a page of the list) by scope id, in the same queries for
    any page: this site's projects, issue types and fields are read once and each scope's choices
    are plain id pairs, where `Scope.visible()` would query per scope and prefetching would build
    model managers per row. Gives what `ScopeRow.of` gives."""
    from mappings.fields import site_fields

    scope_ids = [s.scope_id for s in syncs]
    if not scope_ids:
        return {}
    projects = list(Project.objects.all())
    issue_types = list(IssueType.objects.all())
    fields = site_fields()
    modes = dict(Scope.objects.filter(pk__in=scope_ids).values_list("pk", "mode"))
    chosen_projects: dict[int, set[int]] = defaultdict(set)
    for scope_id, project_id in Scope.projects.through.objects.filter(scope_id__in=scope_ids).values_list(
            "scope_id", "project_id"):
        chosen_projects[scope_id].add(project_id)
    chosen_types: dict[int, set[int]] = defaultdict(set)
    for scope_id, type_id in Scope.issue_types.through.objects.filter(scope_id__in=scope_ids).values_list(
            "scope_id", "issuetype_id"):
        chosen_types[scope_id].add(type_id)
    rows = {}
    for scope_id, mode in modes.items():
        chosen_p, chosen_t = chosen_projects[scope_id], chosen_types[scope_id]
        shown_p = _visible(mode, projects, chosen_p)
        shown_t = _visible(mode, issue_types, chosen_t)
        rows[scope_id] = ScopeRow(
            mode, [p for p in projects if p.pk in chosen_p], [t for t in issue_types if t.pk in chosen_t],
            {"projects": [{"key": p.key, "name": p.name} for p in shown_p],
             "issue_types": [{"name": t.name} for t in shown_t], "mappable_fields": fields},
        )
    return rows


def _visible(mode: str, everything: list[Any], selected: set[int]) -> list[Any]:
    """`Scope._visible` on rows already loaded."""
    if mode == Scope.Mode.SHOW_ONLY_SELECTED:
        return [x for x in everything if x.pk in selected]
    if mode == Scope.Mode.HIDE_ONLY_SELECTED:
        return [x for x in everything if x.pk not in selected]
    return everything


@dataclass(frozen=True)
class HistoryEntry:
    direction: str  # sent | received
    message_type: str
    sequence: int
    at: datetime
    state: str
    by: str
    error: str = ""
    what: str = ""


def _what(body: bytes | memoryview) -> tuple[str, str]:
    """What a message changed, for the history: (summary, who changed it if the message says)."""
    try:
        payload = json.loads(bytes(body))["payload"]
    except (ValueError, KeyError, TypeError):
        return "", ""
    if "mapping" in payload:
        m = payload["mapping"]
        state = "enabled" if m.get("enabled") else "disabled"
        return f"Mapping “{m.get('name')}” version {m.get('version')}, {state}", str(m.get("updated_by", ""))
    if "version" in payload and "id" in payload:
        return f"Mapping deleted (version {payload['version']})", ""
    visible = payload.get("visible")
    if isinstance(visible, dict):
        projects = ", ".join(str(p.get("key")) for p in visible.get("projects", []))
        return f"Scope shows {projects or 'no projects'}", ""
    return "", ""


def synchronization_history(sync: Synchronization) -> list[HistoryEntry]:
    sent = []
    for m in OutboxMessage.objects.filter(synchronization_id=sync.pk):
        what, _ = _what(m.body)
        sent.append(HistoryEntry("sent", m.message_type, m.sequence, m.created_at, m.state, m.created_by,
                                 m.last_error, what))
    received = []
    for r in InboundMessage.objects.filter(synchronization_id=sync.pk):
        what, by = _what(r.body)
        received.append(HistoryEntry("received", r.message_type, r.sequence, r.received_at, "applied",
                                     by or r.sender, "", what))
    return sorted(sent + received, key=lambda e: e.at)


# The list's sortable columns: the name in the address -> the ordering (always ending on pk, so pages
# never overlap).
LIST_SORTS = {
    "name": ("name", "pk"), "partner": ("partner_address", "name", "pk"), "status": ("status", "-updated_at", "pk"),
    "updated": ("updated_at", "pk"),
}


def synchronization_search(
    *, status: str | None = None, query: str = "", sort: str = "-updated"
) -> QuerySet[Synchronization]:
    """The list narrowed to a status and to names or partner addresses containing `query`, sorted
    by one of LIST_SORTS (a leading "-" for descending)."""
    qs = synchronization_list(status=status)
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(partner_address__icontains=query))
    key = sort.removeprefix("-")
    if key in LIST_SORTS and sort != "-updated":
        first, *rest = LIST_SORTS[key]
        qs = qs.order_by(("-" + first) if sort.startswith("-") else first, *rest)
    return qs


def synchronization_status_counts(*, query: str = "") -> dict[str, int]:
    """How many listed synchronizations each status has (for the status filter), in one query."""
    qs = synchronization_list()
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(partner_address__icontains=query))
    return dict(qs.order_by().values_list("status").annotate(n=Count("pk")))
