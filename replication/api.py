"""Issue sync in the local admin API: issues in error with Retry and Skip, pause and resume."""
from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from replication import selectors, services
from replication.models import IssueLink
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
