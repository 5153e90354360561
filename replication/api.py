"""Issue sync in the local admin API: issues in error with Retry and Skip, pause and resume, and the
synchronization of existing issues (start, dry run, progress, pause / resume / cancel)."""
from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from replication import runs, selectors, services
from replication.models import IssueLink, RunMode, RunState, SyncRun
from replication.runs import RunRefused
from synchronizations.models import Synchronization

LINK_FIELDS: dict[str, serializers.Field] = {
    "id": serializers.IntegerField(), "synchronization": serializers.CharField(),
    "issue_key": serializers.CharField(), "partner_key": serializers.CharField(),
    "partner_issue_id": serializers.CharField(), "state": serializers.CharField(),
    "state_label": serializers.CharField(), "error": serializers.CharField(), "where": serializers.CharField(),
    "when": serializers.DateTimeField(allow_null=True), "attempts": serializers.IntegerField(),
    "waiting_fields": serializers.ListField(child=serializers.CharField()),
    "partner_gone": serializers.BooleanField(), "last_synchronized": serializers.DateTimeField(allow_null=True),
}
LinkSchema = inline_serializer("IssueSyncLink", LINK_FIELDS)
LinkListSchema = inline_serializer("IssueSyncLinks", LINK_FIELDS, many=True)
SummarySchema = inline_serializer("IssueSyncSummary", {
    "paused": serializers.BooleanField(), "issues": serializers.DictField(child=serializers.IntegerField()),
    "issues_in_error": serializers.IntegerField(),
})


def _sync(pk: Any) -> Synchronization:
    return get_object_or_404(Synchronization, pk=pk)


def _link(sync_pk: Any, link_pk: int) -> IssueLink:
    return get_object_or_404(IssueLink, pk=link_pk, synchronization_id=sync_pk)


@extend_schema(responses=LinkListSchema, tags=["issue sync"])
@api_view(["GET"])
def issue_errors(request: Request, sync_pk: Any) -> Response:
    """The issues of a synchronization in error: what failed, where, when, attempts."""
    return Response([selectors.link_row(link) for link in selectors.issue_errors(_sync(sync_pk))])


@extend_schema(request=None, responses=LinkSchema, tags=["issue sync"])
@api_view(["POST"])
def issue_error_retry(request: Request, sync_pk: Any, link_pk: int) -> Response:
    return Response(selectors.link_row(services.link_retry(link=_link(sync_pk, link_pk))))


@extend_schema(request=None, responses=LinkSchema, tags=["issue sync"])
@api_view(["POST"])
def issue_error_skip(request: Request, sync_pk: Any, link_pk: int) -> Response:
    return Response(selectors.link_row(services.link_skip(link=_link(sync_pk, link_pk))))


@extend_schema(responses=SummarySchema, tags=["issue sync"])
@api_view(["GET"])
def issue_sync_summary(request: Request, sync_pk: Any) -> Response:
    return Response(selectors.issue_sync_summary(_sync(sync_pk)))


@extend_schema(request=None, responses=SummarySchema, tags=["issue sync"])
@api_view(["POST"])
def issue_sync_pause(request: Request, sync_pk: Any) -> Response:
    sync = _sync(sync_pk)
    services.synchronization_pause(synchronization=sync)
    return Response(selectors.issue_sync_summary(sync))


@extend_schema(request=None, responses=SummarySchema, tags=["issue sync"])
@api_view(["POST"])
def issue_sync_resume(request: Request, sync_pk: Any) -> Response:
    sync = _sync(sync_pk)
    services.synchronization_resume(synchronization=sync)
    return Response(selectors.issue_sync_summary(sync))


# --- Synchronize existing issues (replication.runs) ----------------------------------------------

RUN_FIELDS: dict[str, serializers.Field] = {
    "id": serializers.UUIDField(), "synchronization": serializers.CharField(), "mapping": serializers.CharField(),
    "mapping_name": serializers.CharField(), "mode": serializers.ChoiceField(choices=RunMode.choices),
    "mode_label": serializers.CharField(), "dry_run": serializers.BooleanField(),
    "match_by": serializers.CharField(), "asked": serializers.IntegerField(),
    "matches": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
    "state": serializers.ChoiceField(choices=RunState.choices), "state_label": serializers.CharField(),
    "active": serializers.BooleanField(), "total": serializers.IntegerField(), "done": serializers.IntegerField(),
    "percent": serializers.IntegerField(), "created": serializers.IntegerField(),
    "linked": serializers.IntegerField(), "updated": serializers.IntegerField(),
    "skipped": serializers.IntegerField(), "failed": serializers.IntegerField(),
    "comments": serializers.IntegerField(),
    "reasons": serializers.DictField(child=serializers.IntegerField()),
    "samples": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
    "rate": serializers.FloatField(), "seconds": serializers.FloatField(),
    "seconds_left": serializers.IntegerField(allow_null=True), "note": serializers.CharField(),
    "started_by": serializers.CharField(), "started_at": serializers.DateTimeField(allow_null=True),
    "finished_at": serializers.DateTimeField(allow_null=True),
}
RunSchema = inline_serializer("IssueSyncRun", RUN_FIELDS)
RunListSchema = inline_serializer("IssueSyncRuns", RUN_FIELDS, many=True)
ErrorSchema = inline_serializer("IssueSyncRunRefused", {"detail": serializers.CharField()})


class RunStartSerializer(serializers.Serializer):
    mapping = serializers.UUIDField(help_text="The enabled mapping whose existing issues are synchronized.")
    mode = serializers.ChoiceField(choices=RunMode.choices, default=RunMode.CREATE_MISSING)
    dry_run = serializers.BooleanField(default=False, help_text="Count what would happen; change nothing.")
    match_by = serializers.CharField(required=False, default="", max_length=40, help_text=(
        "Connect existing: “summary” (an equal summary in the paired project) or the id of a text custom "
        "field holding the partner's issue key."))


def _run(sync_pk: Any, run_pk: Any) -> SyncRun:
    return get_object_or_404(SyncRun, pk=run_pk, synchronization_id=sync_pk)


def _refused(e: RunRefused) -> Response:
    return Response({"detail": str(e)}, status=status.HTTP_409_CONFLICT if e.conflict else status.HTTP_400_BAD_REQUEST)


@extend_schema(methods=["GET"], responses=RunListSchema, tags=["issue sync"])
@extend_schema(methods=["POST"], request=RunStartSerializer, responses={201: RunSchema, 400: ErrorSchema,
                                                                         409: ErrorSchema}, tags=["issue sync"])
@api_view(["GET", "POST"])
def issue_sync_runs(request: Request, sync_pk: Any) -> Response:
    """Synchronize existing issues: the runs of a synchronization (newest first), or start one."""
    sync = _sync(sync_pk)
    if request.method == "GET":
        return Response([runs.run_row(r) for r in SyncRun.objects.filter(synchronization=sync)[:50]])
    form = RunStartSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    try:
        run = runs.run_start(synchronization=sync, mapping_id=form.validated_data["mapping"],
                             mode=form.validated_data["mode"], dry_run=form.validated_data["dry_run"],
                             match_by=form.validated_data["match_by"],
                             started_by=request.user.get_username())
    except RunRefused as e:
        return _refused(e)
    return Response(runs.run_row(run), status=status.HTTP_201_CREATED)


@extend_schema(responses=RunSchema, tags=["issue sync"])
@api_view(["GET"])
def issue_sync_run(request: Request, sync_pk: Any, run_pk: Any) -> Response:
    """One run: progress (done / total, rate, seconds left), counts, reasons for skipping, samples."""
    return Response(runs.run_row(_run(sync_pk, run_pk)))


@extend_schema(request=None, responses={200: RunSchema, 409: ErrorSchema}, tags=["issue sync"])
@api_view(["POST"])
def issue_sync_run_action(request: Request, sync_pk: Any, run_pk: Any, action: str) -> Response:
    """Pause, resume or cancel a run (409 when the run is not in a state that allows it)."""
    run = _run(sync_pk, run_pk)
    act = {"pause": runs.run_pause, "resume": runs.run_resume, "cancel": runs.run_cancel}[action]
    try:
        return Response(runs.run_row(act(run=run)))
    except RunRefused as e:
        return _refused(e)
