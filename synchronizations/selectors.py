"""Reads for the pages and the API: constant query counts whatever the number of rows."""
from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Case, Count, OuterRef, Q, QuerySet, Subquery, Value, When

from invitations.kinds import kind_describe, kind_get
from invitations.models import DeliveryState, InboundMessage, OutboxMessage, state_is_not
from jira.models import IssueType, Project
from synchronizations.fields import site_fields
from synchronizations.models import Scope, Synchronization, scope_visible


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


def _delivery(first: OutboxMessage | None) -> DeliveryInfo:
    """A synchronization's delivery state from its first failed message, else its oldest undelivered one."""
    if first is None:
        return DeliveryInfo("delivered")
    if first.state == DeliveryState.FAILED:
        return DeliveryInfo("failed", first.attempts, None, first.last_error, first.id)
    return DeliveryInfo("pending", first.attempts, first.next_attempt_at, first.last_error)


def synchronization_delivery(sync: Synchronization) -> DeliveryInfo:
    return synchronization_deliveries([sync])[sync.pk]


# The undelivered index's own condition, its state written in the statement (`state_is_not`): with the state
# bound, a prepared statement's generic plan could not use that partial index.
_UNDELIVERED = state_is_not(DeliveryState.DELIVERED)


def _deciding_messages(ids: list[uuid.UUID]) -> QuerySet[Any, Any]:
    """Per synchronization, the id of the message that decides its delivery state (None: all delivered)."""
    deciding = (OutboxMessage.objects.filter(synchronization_id=OuterRef("pk")).filter(_UNDELIVERED)
                .order_by(Case(When(state=DeliveryState.FAILED, then=Value(0)), default=Value(1)), "created_at",
                          "sequence")
                .values("pk")[:1])
    return Synchronization.objects.filter(pk__in=ids).annotate(deciding=Subquery(deciding)).values("deciding")


def synchronization_deliveries(syncs: Iterable[Synchronization]) -> dict[uuid.UUID, DeliveryInfo]:
    """The delivery state of each of these synchronizations (a page of the list), in one query.

    One row per synchronization, whatever its traffic: the message that decides its state
    (the first failed, else the oldest waiting) is picked in the database from the partial
    index of undelivered messages, and only those rows are read.
    """
    ids = [s.pk for s in syncs]
    if not ids:
        return {}
    picked = _deciding_messages(ids)
    rows = {m.synchronization_id: m for m in OutboxMessage.objects.filter(pk__in=picked)
            .only("id", "synchronization_id", "state", "attempts", "next_attempt_at", "last_error")}
    return {pk: _delivery(rows.get(pk)) for pk in ids}


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
        shown_p = scope_visible(mode, projects, chosen_p)
        shown_t = scope_visible(mode, issue_types, chosen_t)
        rows[scope_id] = ScopeRow(
            mode, [p for p in projects if p.pk in chosen_p], [t for t in issue_types if t.pk in chosen_t],
            {"projects": [{"key": p.key, "name": p.name} for p in shown_p],
             "issue_types": [{"name": t.name} for t in shown_t], "mappable_fields": fields},
        )
    return rows


HISTORY_PAGE_SIZE = 20


@dataclass(frozen=True)
class HistoryEntry:
    direction: str  # sent | received
    message_type: str  # the kind's name on the wire
    title: str  # the kind in the product's words, e.g. "Mapping saved"
    sequence: int
    at: datetime
    state: str
    by: str
    error: str = ""
    what: str = ""
    stream: str = ""


@dataclass(frozen=True)
class HistoryPage:
    entries: list[HistoryEntry]
    number: int
    has_newer: bool
    has_older: bool


def _payload(body: bytes | memoryview) -> dict[str, Any]:
    try:
        payload = json.loads(bytes(body))["payload"]
    except (ValueError, KeyError, TypeError):
        return {}  # pruned, or not a message this site can read
    return payload if isinstance(payload, dict) else {}


def synchronization_history(sync: Synchronization, *, page: int = 1,
                            size: int = HISTORY_PAGE_SIZE) -> HistoryPage:
    """One page of the messages sent and received, newest first, in the words of each kind's registry entry.

    Each side is read newest first only as far as this page reaches (two indexed, limited
    queries), and only the page's bodies are parsed: the cost follows the page, not the history.
    """
    page = max(1, page)
    reach = page * size + 1
    sent = list(OutboxMessage.objects.filter(synchronization_id=sync.pk).order_by("-created_at")
                .only("id", "message_type", "stream", "sequence", "created_at", "state", "created_by", "last_error")
                [:reach])
    received = list(InboundMessage.objects.filter(synchronization_id=sync.pk).order_by("-received_at")
                    .only("id", "message_type", "stream", "sequence", "received_at", "outcome", "sender", "error")
                    [:reach])
    rows: list[tuple[datetime, str, Any]] = [(m.created_at, "sent", m) for m in sent]
    rows += [(r.received_at, "received", r) for r in received]
    rows.sort(key=lambda row: row[0], reverse=True)
    start = (page - 1) * size
    shown = rows[start:start + size]
    bodies = dict(OutboxMessage.objects.filter(pk__in=[m.pk for _, d, m in shown if d == "sent"])
                  .values_list("pk", "body"))
    bodies.update(InboundMessage.objects.filter(pk__in=[r.pk for _, d, r in shown if d == "received"])
                  .values_list("pk", "body"))
    entries = []
    for at, direction, m in shown:
        payload = _payload(bodies.get(m.pk, b""))
        kind = kind_get(m.message_type)
        title = kind.title if kind else m.message_type
        what = kind_describe(m.message_type, payload) if payload else ""
        author = (kind.author(payload) if kind and kind.author and payload else "") or ""
        if direction == "sent":
            entries.append(HistoryEntry("sent", m.message_type, title, m.sequence, at, m.state, m.created_by,
                                        m.last_error, what, m.stream))
        else:
            entries.append(HistoryEntry("received", m.message_type, title, m.sequence, at, m.outcome,
                                        author or m.sender, m.error, what, m.stream))
    return HistoryPage(entries, page, has_newer=page > 1, has_older=len(rows) > start + size)


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
