"""Reads for the pages and the API: constant query counts whatever the number of rows."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet, Subquery

from invitations.models import DeliveryState, InboundMessage, OutboxMessage
from synchronizations.models import Synchronization


def synchronization_list(*, status: str | None = None) -> QuerySet[Synchronization]:
    """The list, each row annotated with its delivery state in the same query."""
    undelivered = OutboxMessage.objects.filter(synchronization_id=OuterRef("pk")).exclude(
        state=DeliveryState.DELIVERED
    )
    failed = undelivered.filter(state=DeliveryState.FAILED)
    oldest = undelivered.order_by("sequence")
    qs = Synchronization.listed.select_related("scope").annotate(
        delivery_failed=Exists(failed),
        delivery_pending=Exists(undelivered),
        delivery_attempts=Subquery(oldest.values("attempts")[:1]),
        delivery_next_at=Subquery(oldest.values("next_attempt_at")[:1]),
        delivery_error=Subquery(oldest.values("last_error")[:1]),
    )
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


def synchronization_delivery(sync: Synchronization) -> DeliveryInfo:
    undelivered = list(
        OutboxMessage.objects.filter(synchronization_id=sync.pk)
        .exclude(state=DeliveryState.DELIVERED).order_by("sequence")
    )
    if not undelivered:
        return DeliveryInfo("delivered")
    failed = [m for m in undelivered if m.state == DeliveryState.FAILED]
    if failed:
        return DeliveryInfo("failed", failed[0].attempts, None, failed[0].last_error, failed[0].id)
    m = undelivered[0]
    return DeliveryInfo("pending", m.attempts, m.next_attempt_at, m.last_error)


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
