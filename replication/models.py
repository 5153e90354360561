"""The durable links between a local issue (or comment) and its partner copy, kept on both sites.

A link is keyed by the ORIGIN issue (the site where the issue was first created and its id
there) and the synchronization: both sites hold the same key for the same pair, so a create
delivered twice, retried or racing an update finds the one link and makes no second copy.
"""
from __future__ import annotations

import uuid

from django.db import models

from issuesync.prepared import PreparedSave
from synchronizations.models import Synchronization


class LinkState(models.TextChoices):
    IN_SYNC = "in_sync", "In sync"
    PENDING = "pending", "Pending"
    ERROR = "error", "Error"
    PAUSED = "paused", "Paused"


class IssueLink(PreparedSave, models.Model):
    """One local issue and its partner issue, within one synchronization.

    `fields` is the last synchronized state of every mapped field, by this site's field id:
    `{"summary": {"v": value, "c": [origin time, origin site]}}`. A local value that differs
    from `v` is a local change not yet sent; an incoming value whose clock `c` is not newer
    changes nothing (no echo, and last writer wins field by field on both sites).
    `pending` holds incoming field states that wait behind an error or a pause, merged by clock.
    """

    synchronization = models.ForeignKey(Synchronization, on_delete=models.CASCADE, related_name="issue_links")
    origin_site = models.CharField(max_length=200)
    origin_issue_id = models.CharField(max_length=32)
    mapping_id = models.UUIDField(null=True, blank=True)
    issue = models.ForeignKey("jira.Issue", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    local_issue_id = models.CharField(max_length=32)  # kept when the local issue is deleted
    local_key = models.CharField(max_length=32, blank=True)
    partner_issue_id = models.CharField(max_length=32, blank=True)
    partner_key = models.CharField(max_length=32, blank=True)
    fields = models.JSONField(default=dict, blank=True)
    pending = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=LinkState.choices, default=LinkState.PENDING, db_index=True)
    partner_gone = models.BooleanField(default=False)  # the partner's issue was deleted there
    error = models.TextField(blank=True)
    error_where = models.CharField(max_length=200, blank=True)  # which site could not apply it
    error_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["synchronization", "origin_site", "origin_issue_id"],
                                    name="replication_link_origin"),
            models.UniqueConstraint(fields=["synchronization", "local_issue_id"], name="replication_link_local"),
        ]
        indexes = [models.Index(fields=["synchronization", "state"], name="replication_link_sync_state")]

    def __str__(self) -> str:
        return f"{self.local_key or self.local_issue_id} <-> {self.partner_key or '?'} ({self.state})"


class CommentLink(models.Model):
    """A comment and its copy on the partner, keyed by the origin comment (site and id)."""

    link = models.ForeignKey(IssueLink, on_delete=models.CASCADE, related_name="comment_links")
    origin_site = models.CharField(max_length=200)
    origin_comment_id = models.CharField(max_length=32)
    comment = models.ForeignKey("jira.Comment", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    clock = models.JSONField(default=list, blank=True)  # [origin time, origin site] of the last version applied
    deleted = models.BooleanField(default=False)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["link", "origin_site", "origin_comment_id"],
                                               name="replication_comment_origin")]

    def __str__(self) -> str:
        return f"comment {self.origin_comment_id}@{self.origin_site}"


class SyncControl(models.Model):
    """Issue traffic of one synchronization paused or running (on this site)."""

    synchronization = models.OneToOneField(Synchronization, on_delete=models.CASCADE, primary_key=True,
                                           related_name="issue_sync_control")
    paused = models.BooleanField(default=False)
    paused_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return "paused" if self.paused else "running"


class RunMode(models.TextChoices):
    CREATE_MISSING = "create_missing", "Create missing"
    CONNECT_EXISTING = "connect_existing", "Connect existing"
    RESYNC = "resync", "Resynchronize"


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    CANCELLED = "cancelled", "Cancelled"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


ACTIVE_RUN_STATES = (RunState.QUEUED, RunState.RUNNING, RunState.PAUSED)


class SyncRun(models.Model):
    """One first synchronization (or its dry run) of a mapping's existing issues, walked in issue id order.

    `cursor` is the last issue id handled; it moves with the counts and the messages of each chunk in
    one transaction, so a run that stops anywhere (a killed worker, a restarted site) goes on from
    exactly there. `ticket` names the task chain that may work on the run: a sweep that takes over a
    stalled run issues a new one, and the old chain, if it still lives, stops at its next chunk.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    synchronization = models.ForeignKey(Synchronization, on_delete=models.CASCADE, related_name="issue_sync_runs")
    mapping_id = models.UUIDField()
    mapping_name = models.CharField(max_length=200, blank=True)
    mode = models.CharField(max_length=20, choices=RunMode.choices)
    dry_run = models.BooleanField(default=False)
    match_by = models.CharField(max_length=40, blank=True)  # Connect existing: "summary" or a custom field's id
    state = models.CharField(max_length=10, choices=RunState.choices, default=RunState.QUEUED)
    cursor = models.BigIntegerField(default=0)  # the last issue id handled
    last_issue_id = models.BigIntegerField(default=0)  # the newest issue when the run started: its end
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    linked = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    comments = models.PositiveIntegerField(default=0)
    asked = models.PositiveIntegerField(default=0)  # Connect existing: issues the partner was asked to match
    reasons = models.JSONField(default=dict, blank=True)  # why issues were skipped or failed: {reason: count}
    samples = models.JSONField(default=dict, blank=True)  # up to 10 issue keys per outcome
    note = models.CharField(max_length=300, blank=True)  # what the run waits for, or why it failed
    ticket = models.UUIDField(default=uuid.uuid4)
    started_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    running_since = models.DateTimeField(null=True, blank=True)  # since the last start or resume
    seconds_before = models.FloatField(default=0)  # time spent running before the last pause
    heartbeat = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Never two runs of one mapping at once (a dry run included).
            models.UniqueConstraint(fields=["synchronization", "mapping_id"], name="replication_run_one_active",
                                    condition=models.Q(state__in=["queued", "running", "paused"])),
        ]
        indexes = [models.Index(fields=["state", "heartbeat"], name="replication_run_state")]

    def __str__(self) -> str:
        return f"{self.get_mode_display()} {self.mapping_name} ({self.state})"


class MatchOutcome(models.TextChoices):
    MATCHED = "matched", "Matched"
    AMBIGUOUS = "ambiguous", "Matched ambiguously"
    UNMATCHED = "unmatched", "Not matched"


class RunMatch(models.Model):
    """The partner's answer for one issue of a Connect existing run (written by the inbox, never locking the run)."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="matches")
    origin_issue_id = models.CharField(max_length=32)
    issue_key = models.CharField(max_length=32)
    outcome = models.CharField(max_length=10, choices=MatchOutcome.choices)
    partner_key = models.CharField(max_length=32, blank=True)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["run", "origin_issue_id"], name="replication_match_once")]

    def __str__(self) -> str:
        return f"{self.issue_key}: {self.outcome} {self.partner_key}"


class ChangesSwept(models.Model):
    """When the sweep for changes a push missed last started (one row): the next one looks from there on."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    started_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"changes swept from {self.started_at:%Y-%m-%d %H:%M:%S}"
