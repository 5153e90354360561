"""The first synchronization of a mapping's existing issues: Create missing, Resynchronize, and their dry runs.

A run walks the mapping's issues in id order, a chunk at a time, on the ordinary sending machinery
(`issue_push`, `comment_send`): each chunk's messages, the run's cursor and its counts are written in
one transaction, so a run stopped anywhere (a killed worker, a restarted site, Pause, Cancel) has
either sent an issue with all its comments or not touched it, and goes on from exactly there.

- Create missing: every matching issue with no link in the synchronization is sent, then its comments
  (as the mapping's comments setting says), on the issue's own stream: the partner creates the copy
  from the first message and adds the comments after it. An issue already linked is skipped, so
  running it twice creates nothing the second time.
- Resynchronize: every linked issue is sent again with every mapped field (its clocks unchanged, so
  the partner only repairs what drifted), and comments that never left are sent. Never creates.
- Dry run: the same walk, counting what would be created, updated and skipped (and why), with a
  sample of issue keys; nothing is sent.

Backpressure: the partner applies a synchronization's messages one at a time, so before each chunk
the run waits while more messages of the synchronization wait in the outbox than the partner took in
about the last second (`backlog_bound`): an ordinary change is never queued behind more than about a
second of the run's messages. A run is done once its last messages are
delivered, so its counts are what the partner holds.
"""
from __future__ import annotations

import datetime
import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, QuerySet
from django.utils import timezone

from invitations.models import DeliveryState, OutboxMessage
from invitations.outbox import doorbells_held, ring_after_commit
from jira.models import Comment, CustomField, Issue
from mappings.models import Mapping, sides
from replication import services
from replication.connect import BY_SUMMARY, connect_send, match_value
from replication.models import (
    ACTIVE_RUN_STATES,
    CommentLink,
    IssueLink,
    LinkState,
    MatchOutcome,
    RunMatch,
    RunMode,
    RunState,
    SyncRun,
)
from synchronizations.models import Synchronization
from synchronizations.states import InvitationStatus

log = logging.getLogger(__name__)

CHUNK_SIZE = 10  # issues per transaction: short enough that the synchronization's lock is held briefly
# The partner applies a synchronization's messages one at a time (under its link's lock), so every message
# waiting ahead of an ordinary change delays it. A run keeps at most about a second of the partner's recent
# pace waiting (never fewer than BACKLOG_MIN messages, a few batches, so the partner is never idle).
BACKLOG_MIN = 60
BACKLOG_SECONDS = 1.0
PACE_WINDOW_SECONDS = 5
WAIT_SECONDS = 0.5  # how soon a waiting run looks again
# A running run silent this long is taken over by the sweep. A live chain writes its heartbeat at every
# step, at most about 2 s apart plus a chunk's work, and a step in progress holds the run's row, which the
# sweep skips; a chain merely queued longer than this is replaced (its ticket is then stale: it stops).
STALLED_AFTER_SECONDS = 10
SAMPLE_SIZE = 10

SKIP_LINKED = "already linked"
SKIP_NOT_MATCHING = "does not match the mapping (filter, direction or either side's scope)"
SKIP_NOT_LINKED = "not linked yet (Create missing copies it)"
SKIP_IN_ERROR = "in error (see the Errors view)"
SKIP_PAUSED = "issue synchronization paused"
SKIP_NO_MATCH_VALUE = "no value to match by"
MATCH_REASONS: dict[str, str] = {MatchOutcome.AMBIGUOUS: "matched ambiguously on the partner (left alone)",
                 MatchOutcome.UNMATCHED: "no match on the partner"}


class RunRefused(Exception):
    """A run cannot start or change as asked; the message says why, in the product's words.

    `conflict`: refused because of the state of things (HTTP 409), not because the request was wrong (400).
    """

    def __init__(self, message: str, *, conflict: bool = True) -> None:
        super().__init__(message)
        self.conflict = conflict


def _now() -> Any:
    return timezone.now()


def _ring(run: SyncRun, countdown: float = 0) -> None:
    from replication.tasks import sync_run_step

    run_id, ticket = str(run.pk), str(run.ticket)

    def ring() -> None:
        try:
            sync_run_step.apply_async((run_id, ticket), countdown=countdown or None)
        except Exception:  # the broker is down: the sweep takes the run over once it looks stalled
            log.warning("could not queue the next step of run %s; the sweep will", run_id, exc_info=True)

    transaction.on_commit(ring)


def candidates(sync: Synchronization, mapping: Mapping) -> QuerySet[Issue]:
    """The issues of the mapping's project and issue types on this site (the filter is checked per issue)."""
    me, _partner = sides(sync.role)
    types = [p[me] for p in mapping.issue_types]
    return Issue.objects.filter(project__key=getattr(mapping, f"{me}_project"), issue_type__name__in=types)


def backlog(sync: Synchronization, *, bound: int) -> int:
    """Messages of the synchronization not delivered yet (failed ones aside), counted up to bound + 1."""
    return OutboxMessage.objects.filter(
        synchronization_id=sync.pk, state__in=[DeliveryState.PENDING, DeliveryState.DELIVERING])[:bound + 1].count()


def backlog_bound(sync: Synchronization) -> int:
    """How many messages may wait: what the partner took in the last BACKLOG_SECONDS, at its recent pace."""
    now = timezone.now()
    recent = OutboxMessage.objects.filter(
        synchronization_id=sync.pk, created_at__gte=now - datetime.timedelta(seconds=120),
        state=DeliveryState.DELIVERED, delivered_at__gte=now - datetime.timedelta(seconds=PACE_WINDOW_SECONDS)).count()
    return max(BACKLOG_MIN, int(recent / PACE_WINDOW_SECONDS * BACKLOG_SECONDS))


# --- The admin's actions -------------------------------------------------------------------------


def match_choices() -> list[tuple[str, str]]:
    """What Connect existing may match by: an equal summary, or the partner's issue key in a text custom field."""
    fields = CustomField.objects.filter(field_type=CustomField.FieldType.TEXT).order_by("name")
    return [(BY_SUMMARY, "Equal summary in the paired project")] + [
        (f.field_id, f"The partner's issue key in {f.name}") for f in fields]


def run_start(*, synchronization: Synchronization, mapping_id: Any, mode: str, dry_run: bool = False,
              match_by: str = "", started_by: str = "") -> SyncRun:
    """Start a run (or a dry run) on one enabled mapping; refused while another runs on that mapping."""
    if mode not in RunMode.values:
        raise RunRefused(f"Unknown mode “{mode}”: choose one of {', '.join(RunMode.labels)}.",
                         conflict=False)
    if mode == RunMode.CONNECT_EXISTING and match_by not in dict(match_choices()):
        raise RunRefused("Connect existing needs what to match by: “summary”, or the id of a text custom field "
                         "holding the partner's issue key.", conflict=False)
    if synchronization.status != InvitationStatus.ACTIVE:
        raise RunRefused("The synchronization is not Active: enable a mapping first.")
    try:
        mapping = Mapping.objects.filter(pk=mapping_id, synchronization=synchronization,
                                         deleted_at__isnull=True).first()
    except Exception:  # not a UUID
        mapping = None
    if mapping is None:
        raise RunRefused("No such mapping in this synchronization.", conflict=False)
    if not mapping.enabled:
        raise RunRefused(f"The mapping “{mapping.name}” is disabled: enable it first.")
    issues = candidates(synchronization, mapping)
    now = _now()
    try:
        with transaction.atomic():
            last = issues.aggregate(last=Max("pk"))["last"] or 0
            run = SyncRun.objects.create(
                synchronization=synchronization, mapping_id=mapping.pk, mapping_name=mapping.name, mode=mode,
                dry_run=dry_run, match_by=match_by if mode == RunMode.CONNECT_EXISTING else "",
                state=RunState.RUNNING, last_issue_id=last, total=issues.filter(pk__lte=last).count(),
                started_by=started_by[:150], started_at=now, running_since=now, heartbeat=now)
            _ring(run)
    except IntegrityError:
        raise RunRefused(f"A synchronization of existing issues is already going on “{mapping.name}”: "
                         "wait for it, or cancel it, before starting another.") from None
    return run


def run_pause(*, run: SyncRun) -> SyncRun:
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().get(pk=run.pk)
        if run.state not in (RunState.QUEUED, RunState.RUNNING):
            raise RunRefused(f"This run is {run.get_state_display().lower()}: only a running one can be paused.")
        now = _now()
        run.seconds_before += (now - run.running_since).total_seconds() if run.running_since else 0
        run.state, run.running_since, run.note = RunState.PAUSED, None, ""
        run.save()
    return run


def run_resume(*, run: SyncRun) -> SyncRun:
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().get(pk=run.pk)
        if run.state != RunState.PAUSED:
            raise RunRefused(f"This run is {run.get_state_display().lower()}: only a paused one can be resumed.")
        now = _now()
        run.state, run.running_since, run.heartbeat, run.ticket = RunState.RUNNING, now, now, uuid.uuid4()
        run.save()
        _ring(run)
    return run


def run_cancel(*, run: SyncRun) -> SyncRun:
    """Stop a run between two chunks: every issue sent so far went with all its comments."""
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().get(pk=run.pk)
        if run.state not in ACTIVE_RUN_STATES:
            raise RunRefused(f"This run is {run.get_state_display().lower()} already.")
        _finish(run, RunState.CANCELLED)
        run.save()
    return run


def _finish(run: SyncRun, state: str, note: str = "") -> None:
    now = _now()
    if run.running_since:
        run.seconds_before += (now - run.running_since).total_seconds()
    run.state, run.finished_at, run.running_since, run.note = state, now, None, note[:300]


# --- The work ------------------------------------------------------------------------------------


def run_step(*, run_id: Any, ticket: Any) -> float | None:
    """Handle the run's next chunk. Returns how many seconds until the next step, or None: the chain ends."""
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.state != RunState.RUNNING or str(run.ticket) != str(ticket):
            return None  # paused, cancelled, finished, or taken over by a newer chain
        run.heartbeat = _now()
        sync = Synchronization.objects.select_related("scope").filter(pk=run.synchronization_id).first()
        mapping = Mapping.objects.filter(pk=run.mapping_id, deleted_at__isnull=True).first()
        if sync is None or sync.status != InvitationStatus.ACTIVE or mapping is None or not mapping.enabled:
            _finish(run, RunState.FAILED, "The mapping was disabled or deleted, or the synchronization stopped, "
                                          "during the run; start it again once it is enabled.")
            run.save()
            return None
        if services.is_paused(sync):
            run.note = "Waiting: issue synchronization is paused."
            run.save()
            return WAIT_SECONDS * 4
        sends = not run.dry_run or run.mode == RunMode.CONNECT_EXISTING
        bound = backlog_bound(sync) if sends else 0
        waiting = backlog(sync, bound=bound) if sends else 0
        if waiting > bound:
            run.note = f"Waiting for {sync.partner_address} to take the last {bound}+ messages."
            run.save()
            return WAIT_SECONDS
        ids = list(candidates(sync, mapping).filter(pk__gt=run.cursor, pk__lte=run.last_issue_id)
                   .order_by("pk").values_list("pk", flat=True)[:CHUNK_SIZE])
        if not ids:
            if waiting:
                run.note = f"Delivering the last {waiting} message(s) to {sync.partner_address}."
                run.save()
                return WAIT_SECONDS
            answered = RunMatch.objects.filter(run=run).count() if run.mode == RunMode.CONNECT_EXISTING else 0
            if answered < run.asked:
                run.note = f"Waiting for {sync.partner_address}'s answers: {answered} of {run.asked}."
                run.save()
                return WAIT_SECONDS
            _finish(run, RunState.DONE)
            run.save()
            log.info("run %s done: %s created, %s updated, %s skipped, %s failed", run.pk, run.created, run.updated,
                     run.skipped, run.failed)
            return None
        with services.decisions_memoized():
            for pk in ids:
                _handle(run, sync, mapping, pk)
        run.cursor, run.done, run.note = ids[-1], run.done + len(ids), ""
        run.save()
    return 0


def _count(run: SyncRun, outcome: str, key: str, reason: str = "") -> None:
    setattr(run, outcome, getattr(run, outcome) + 1)
    if reason:
        run.reasons[reason] = run.reasons.get(reason, 0) + 1
    sample = run.samples.setdefault(outcome, [])
    if len(sample) < SAMPLE_SIZE:
        sample.append(key)


def _handle(run: SyncRun, sync: Synchronization, mapping: Mapping, issue_pk: int) -> None:
    # The key and id for the counts; a dry run decides on the project and type (issue_push reads its own row).
    issue = Issue.objects.select_related("project", "issue_type").filter(pk=issue_pk).first()
    if issue is None:
        return  # deleted meanwhile
    link = IssueLink.objects.filter(synchronization=sync, local_issue_id=str(issue_pk)).first()
    creating = run.mode == RunMode.CREATE_MISSING
    if run.mode == RunMode.CONNECT_EXISTING:
        _connect(run, sync, mapping, issue, link)
        return
    if creating and link is not None:
        _count(run, "skipped", issue.key, SKIP_LINKED)
        return
    if not creating and link is None:
        _count(run, "skipped", issue.key, SKIP_NOT_LINKED)
        return
    if not creating and link is not None and link.state == LinkState.ERROR:
        _count(run, "skipped", issue.key, SKIP_IN_ERROR)
        return
    outcome = "created" if creating else "updated"
    if run.dry_run:  # what issue_push would decide, asked the same way
        matching = services.mapping_for(sync, issue)
        if matching is None or (creating and not services.outgoing_pairs(matching, sync.role)):
            _count(run, "skipped", issue.key, SKIP_NOT_MATCHING)
            return
        _count(run, outcome, issue.key)
        run.comments += len(_comments_to_send(sync, matching, issue, link))
        return
    try:
        # One issue: its message and its comments, or nothing; and one doorbell, for its newest message.
        with transaction.atomic(), doorbells_held() as written:
            result = services.issue_push(issue=issue_pk, synchronization=sync, everything=not creating)
            if result != "sent":
                reason = {"paused": SKIP_PAUSED, "waiting": SKIP_IN_ERROR}.get(result, SKIP_NOT_MATCHING)
                _count(run, "skipped", issue.key, reason)
                return
            link = IssueLink.objects.get(synchronization=sync, local_issue_id=str(issue_pk))
            used = mapping if link.mapping_id in (None, mapping.pk) else Mapping.objects.get(pk=link.mapping_id)
            comments = _comments_to_send(sync, used, issue, None if creating else link)
            sent = services.comments_send(sync=sync, link=link, comments=comments) if comments else 0
            if written:
                ring_after_commit(written[-1], force=True)
    except Exception as e:  # one issue's trouble never stops the run; the admin sees it in the counts
        log.exception("run %s: issue %s failed", run.pk, issue.key)
        _count(run, "failed", issue.key, f"{type(e).__name__}: {e}"[:200])
        return
    run.comments += sent
    if link.state == LinkState.ERROR:
        _count(run, "failed", issue.key, link.error[:200])  # listed in the Errors view, with Retry / Skip
    else:
        _count(run, outcome, issue.key)


def _connect(run: SyncRun, sync: Synchronization, mapping: Mapping, issue: Issue, link: IssueLink | None) -> None:
    if link is not None:
        _count(run, "skipped", issue.key, SKIP_LINKED)
        return
    if services.mapping_for(sync, issue) is None:
        _count(run, "skipped", issue.key, SKIP_NOT_MATCHING)
        return
    if not match_value(issue, run.match_by):
        _count(run, "skipped", issue.key, SKIP_NO_MATCH_VALUE)
        return
    connect_send(sync=sync, run=run, mapping=mapping, issue=issue)  # the partner's answer is counted
    run.asked += 1


def _comments_to_send(sync: Synchronization, mapping: Mapping, issue: Issue, link: IssueLink | None) -> list[Comment]:
    """The issue's own comments not sent along this synchronization yet (none when comments do not flow out)."""
    if not services.comments_flow(mapping, sync.role, outgoing=True):
        return []
    comments = Comment.objects.filter(issue=issue).select_related("author__jira_profile").order_by("pk")
    # Copies of another partner's comments are shown here, not ours to send (their author edits them there).
    # The issue's links are read first, by the issue (joined, PostgreSQL read every comment link there is).
    links = list(IssueLink.objects.filter(issue_id=issue.pk).values_list("pk", flat=True))
    copies = set(CommentLink.objects.filter(link_id__in=links, comment__isnull=False)
                 .exclude(origin_site=settings.SITE_ADDRESS).values_list("comment_id", flat=True)) if links else set()
    sent: set[str] = set()
    if link is not None:
        sent = set(CommentLink.objects.filter(link=link).values_list("origin_comment_id", flat=True))
    return [c for c in comments if c.pk not in copies and str(c.pk) not in sent]


def runs_sweep() -> int:
    """Take over every running run whose chain went silent (a killed worker, a lost task, a restart)."""
    stalled = timezone.now() - datetime.timedelta(seconds=STALLED_AFTER_SECONDS)
    taken = 0
    for run_id in SyncRun.objects.filter(state=RunState.RUNNING, heartbeat__lt=stalled).values_list("pk", flat=True):
        with transaction.atomic():
            run = SyncRun.objects.select_for_update(skip_locked=True).filter(
                pk=run_id, state=RunState.RUNNING, heartbeat__lt=stalled).first()
            if run is None:
                continue  # a chain is working on it right now
            run.ticket, run.heartbeat = uuid.uuid4(), timezone.now()
            run.save(update_fields=["ticket", "heartbeat"])
            _ring(run)
            taken += 1
            log.info("run %s taken over after %s s of silence", run.pk, STALLED_AFTER_SECONDS)
    return taken


# --- Reads ----------------------------------------------------------------------------------------


def run_row(run: SyncRun) -> dict[str, Any]:
    """What the page and the API show of a run: progress, rate, time left, counts, reasons, samples."""
    seconds = run.seconds_before
    if run.state == RunState.RUNNING and run.running_since:
        seconds += (timezone.now() - run.running_since).total_seconds()
    rate = run.done / seconds if seconds > 0 and run.done else 0.0
    left = max(run.total - run.done, 0)
    percent = 100 if run.total == 0 else min(100, int(run.done * 100 / run.total))
    if run.state == RunState.DONE:
        percent = 100
    linked, skipped, reasons, samples = run.linked, run.skipped, dict(run.reasons), dict(run.samples)
    matches: dict[str, list[str]] = {}
    if run.mode == RunMode.CONNECT_EXISTING:
        for outcome, n in RunMatch.objects.filter(run=run).values_list("outcome").annotate(n=Count("pk")):
            if outcome == MatchOutcome.MATCHED:
                linked += n
            else:
                skipped += n
                reasons[MATCH_REASONS[outcome]] = n
        for m in RunMatch.objects.filter(run=run).order_by("pk")[:300]:
            shown = f"{m.issue_key} ↔ {m.partner_key}" if m.outcome == MatchOutcome.MATCHED else (
                f"{m.issue_key} ({m.detail})" if m.detail else m.issue_key)
            matches.setdefault(m.outcome, []).append(shown)
        samples["linked"] = matches.get(MatchOutcome.MATCHED, [])[:SAMPLE_SIZE]
        samples["skipped"] = (samples.get("skipped", []) + [
            k.split(" (")[0] for o in (MatchOutcome.AMBIGUOUS, MatchOutcome.UNMATCHED) for k in matches.get(o, [])
        ])[:SAMPLE_SIZE]
    return {
        "id": str(run.pk), "synchronization": str(run.synchronization_id), "mapping": str(run.mapping_id),
        "mapping_name": run.mapping_name, "mode": run.mode, "mode_label": RunMode(run.mode).label,
        "dry_run": run.dry_run, "state": run.state, "state_label": RunState(run.state).label,
        "active": run.state in ACTIVE_RUN_STATES, "total": run.total, "done": run.done, "percent": percent,
        "match_by": run.match_by, "asked": run.asked, "matches": matches,
        "created": run.created, "linked": linked, "updated": run.updated, "skipped": skipped,
        "failed": run.failed, "comments": run.comments, "reasons": reasons, "samples": samples,
        "rate": round(rate, 1), "seconds": round(seconds, 1),
        "seconds_left": round(left / rate) if rate and run.state in ACTIVE_RUN_STATES else None,
        "note": run.note, "started_by": run.started_by,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


def runs_context(sync: Synchronization) -> dict[str, Any]:
    """The detail page's "Synchronize existing issues": per enabled mapping its run (going or last), and the history."""
    runs = list(SyncRun.objects.filter(synchronization=sync).order_by("-created_at")[:20])
    rows = []
    for mapping in Mapping.objects.filter(synchronization=sync, enabled=True, deleted_at__isnull=True).order_by("name"):
        latest = next((r for r in runs if r.mapping_id == mapping.pk), None)
        rows.append({"mapping": mapping, "run": run_row(latest) if latest else None})
    history = [{**run_row(r), "finished": r.finished_at} for r in runs if r.state not in ACTIVE_RUN_STATES][:10]
    return {"template": "replication/_existing_issues.html", "mappings": rows, "history": history,
            "modes": RunMode.choices, "match_choices": match_choices()}
