"""Connect existing: link issues that already exist on both sites, without copying either.

The site that runs it (the asker) sends, per issue of the mapping with no link yet, an `issue_connect`
on the issue's stream: its issue, and what to match by (an equal summary, or the partner's issue key kept
in one of the asker's custom fields). The partner looks in the paired project and issue type, among its
issues not linked in this synchronization:

- exactly one matches: both sites link the pair, keyed by the asker's issue as the origin (as if it had
  created the copy), with a remote link on each side; nothing is copied and no field is changed: the
  pair synchronizes from its next change (or Sync now, or a Resynchronize run);
- several match: left alone, reported as ambiguous; none: reported as not matched.

The partner's `issue_connect_result` is recorded per issue (`RunMatch`), which the run's counts read.
Both messages are idempotent: a repeated ask finds the link made the first time and answers the same.
"""
from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.utils import timezone

from jira.models import Issue, Project
from mappings.models import Mapping, sides
from replication import services, values, wire
from replication.models import IssueLink, LinkState, MatchOutcome, RunMatch, SyncRun
from synchronizations.models import Synchronization

log = logging.getLogger(__name__)

BY_SUMMARY = "summary"


def match_value(issue: Issue, match_by: str) -> str:
    """What the asker sends to match this issue by: its summary, or the partner's key from a custom field."""
    value = issue.summary if match_by == BY_SUMMARY else values.read(issue, match_by)
    return str(value or "").strip()[:255]


def connect_send(*, sync: Synchronization, run: SyncRun, mapping: Mapping, issue: Issue) -> None:
    """Ask the partner to link its issue matching this one (the caller holds the synchronization's lock)."""
    wire.send(sync, wire.ISSUE_CONNECT, {
        "origin_site": settings.SITE_ADDRESS, "origin_issue_id": str(issue.pk), "mapping_id": str(mapping.pk),
        "issue_id": str(issue.pk), "key": issue.key, "url": services.issue_url(issue.key),
        "issue_type": issue.issue_type.name, "by": BY_SUMMARY if run.match_by == BY_SUMMARY else "key",
        "value": match_value(issue, run.match_by), "run_id": str(run.pk), "dry_run": run.dry_run,
    })


def issue_connect_apply(*, sync: Synchronization, sender: str, payload: dict[str, Any]) -> str:
    """The partner's side: find the one matching issue, link it (unless a dry run), and answer."""
    if payload["origin_site"] != sender:
        return "absorbed"

    def answer(outcome: str, issue: Issue | None = None, detail: str = "") -> str:
        wire.send(sync, wire.ISSUE_CONNECTED, {
            "origin_site": payload["origin_site"], "origin_issue_id": payload["origin_issue_id"],
            "mapping_id": payload["mapping_id"], "run_id": payload["run_id"], "outcome": outcome,
            "issue_id": str(issue.pk) if issue else "", "key": issue.key if issue else "",
            "url": services.issue_url(issue.key) if issue else "", "detail": detail[:300],
            "dry_run": payload["dry_run"]})
        return "applied"

    link = IssueLink.objects.filter(synchronization=sync, origin_site=payload["origin_site"],
                                    origin_issue_id=payload["origin_issue_id"]).select_related("issue").first()
    if link is not None:  # asked again, or linked meanwhile: the same answer
        return answer(MatchOutcome.MATCHED, link.issue, "linked already")
    mapping = Mapping.objects.filter(pk=payload["mapping_id"], synchronization=sync).first()
    if not services._receivable(sync, mapping):
        return answer(MatchOutcome.UNMATCHED, detail=f"the mapping is not enabled on {settings.SITE_ADDRESS}")
    assert mapping is not None
    me, partner = sides(sync.role)
    project = getattr(mapping, f"{me}_project")
    type_name = next((p[me] for p in mapping.issue_types if p[partner] == payload["issue_type"]), None)
    if type_name is None:
        return answer(MatchOutcome.UNMATCHED, detail=f"issue type {payload['issue_type']} is not mapped")
    in_scope = Project.objects.filter(key=project).first()
    if in_scope is None or not services._in_own_scope(sync, in_scope, type_name):
        return answer(MatchOutcome.UNMATCHED, detail=f"{project} {type_name} is outside this site's scope")
    found = Issue.objects.filter(project__key=project, issue_type__name=type_name).exclude(
        pk__in=IssueLink.objects.filter(synchronization=sync, issue__isnull=False).values("issue_id"))
    what = "summary" if payload["by"] == BY_SUMMARY else "key"
    found = found.filter(summary=payload["value"]) if what == "summary" else found.filter(key=payload["value"])
    first_two = list(found.select_related("project", "issue_type").order_by("pk")[:2])
    if not first_two:
        return answer(MatchOutcome.UNMATCHED, detail=f"no unlinked {type_name} in {project} with this {what}")
    if len(first_two) > 1:
        keys = ", ".join(found.order_by("pk").values_list("key", flat=True)[:5])
        return answer(MatchOutcome.AMBIGUOUS, detail=f"{found.count()} issues in {project} have this {what}: {keys}")
    issue = first_two[0]
    if not payload["dry_run"]:
        IssueLink.objects.create(
            synchronization=sync, origin_site=payload["origin_site"], origin_issue_id=payload["origin_issue_id"],
            mapping_id=mapping.pk, issue=issue, local_issue_id=str(issue.pk), local_key=issue.key,
            partner_issue_id=payload["issue_id"], partner_key=payload["key"], state=LinkState.IN_SYNC,
            last_synced_at=timezone.now())
        services._remote_link(sync, issue, sender, payload["key"], payload["url"])
        log.info("connected %s with %s from %s", issue.key, payload["key"], sender)
    return answer(MatchOutcome.MATCHED, issue)


def issue_connected_apply(*, sync: Synchronization, sender: str, payload: dict[str, Any]) -> str:
    """The asker's side: link the pair when matched, and record the answer for the run's counts."""
    if payload["origin_site"] != settings.SITE_ADDRESS:
        return "absorbed"
    issue = Issue.objects.filter(pk=payload["origin_issue_id"]).first()
    if payload["outcome"] == MatchOutcome.MATCHED and not payload["dry_run"] and issue is not None:
        link = IssueLink.objects.select_for_update().filter(
            synchronization=sync, origin_site=settings.SITE_ADDRESS, origin_issue_id=str(issue.pk)).first()
        if link is None:
            link = IssueLink.objects.create(
                synchronization=sync, origin_site=settings.SITE_ADDRESS, origin_issue_id=str(issue.pk),
                mapping_id=payload["mapping_id"], issue=issue, local_issue_id=str(issue.pk), local_key=issue.key,
                partner_issue_id=payload["issue_id"], partner_key=payload["key"], state=LinkState.IN_SYNC,
                last_synced_at=timezone.now())
            services._remote_link(sync, issue, sender, payload["key"], payload["url"])
        elif not link.partner_issue_id:  # sent meanwhile by a change: the partner linked it to the match
            link.partner_issue_id, link.partner_key = payload["issue_id"], payload["key"]
            link.save(update_fields=["partner_issue_id", "partner_key"])
            services._remote_link(sync, issue, sender, payload["key"], payload["url"])
    run = SyncRun.objects.filter(pk=payload["run_id"], synchronization=sync).first()
    if run is not None:
        RunMatch.objects.get_or_create(run=run, origin_issue_id=payload["origin_issue_id"], defaults={
            "issue_key": issue.key if issue else payload["origin_issue_id"], "outcome": payload["outcome"],
            "partner_key": payload["key"], "detail": payload["detail"]})
    return "applied"
