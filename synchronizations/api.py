"""The local admin's REST API: everything the page does (admins only, session or token)."""
from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from invitations.outbox import outbox_retry_failed
from issuesync.web import Conflict
from jira.models import IssueType, Project
from synchronizations import services
from synchronizations.models import Scope, Synchronization, SynchronizationType
from synchronizations.selectors import (
    DeliveryInfo,
    ScopeRow,
    scope_rows,
    synchronization_deliveries,
    synchronization_delivery,
    synchronization_list,
)
from synchronizations.states import InvitationStatus


class ScopeSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=Scope.Mode.choices, default=Scope.Mode.SHOW_ALL)
    projects = serializers.SlugRelatedField(slug_field="key", queryset=Project.objects.all(), many=True,
                                            required=False)
    issue_types = serializers.SlugRelatedField(slug_field="name", queryset=IssueType.objects.all(), many=True,
                                               required=False)


class DeliverySerializer(serializers.Serializer):
    state = serializers.CharField()
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField()
    failed_message_id = serializers.UUIDField(allow_null=True)

    def get_attribute(self, instance: Synchronization) -> DeliveryInfo:
        return synchronization_delivery(instance)


# One synchronization's own read; a list's rows are `_list_item`s built from reads for the whole page,
# so that its rows cost no query each.
class SynchronizationSerializer(serializers.ModelSerializer):
    status_label = serializers.SerializerMethodField()
    scope = serializers.SerializerMethodField()
    delivery = DeliverySerializer(read_only=True)

    class Meta:
        model = Synchronization
        fields = ["id", "name", "sync_type", "partner_address", "role", "status", "status_label", "scope",
                  "partner_visible", "created_at", "updated_at", "delivery"]

    def get_status_label(self, obj: Synchronization) -> str:
        # A method, not source="get_status_display": DRF would inspect that callable's signature per row.
        return obj.get_status_display()

    def get_scope(self, obj: Synchronization) -> dict[str, Any]:
        return _scope_json(ScopeRow.of(obj.scope))


_DATETIME = serializers.DateTimeField()


def _list_item(sync: Synchronization, scope: ScopeRow, delivery: DeliveryInfo) -> dict[str, Any]:
    """What `SynchronizationSerializer` gives for one row, as a plain dict: walking the serializer's
    fields for every row of a page cost more than the page's SQL. The schema still documents the
    list with the serializer, and a test holds every row equal to the synchronization's own read."""
    return {
        "id": str(sync.pk), "name": sync.name, "sync_type": sync.sync_type, "partner_address": sync.partner_address,
        "role": sync.role, "status": sync.status, "status_label": sync.get_status_display(),
        "scope": _scope_json(scope), "partner_visible": sync.partner_visible,
        "created_at": _DATETIME.to_representation(sync.created_at),
        "updated_at": _DATETIME.to_representation(sync.updated_at),
        "delivery": {
            "state": delivery.state, "attempts": delivery.attempts,
            "next_attempt_at": (_DATETIME.to_representation(delivery.next_attempt_at)
                                if delivery.next_attempt_at is not None else None),
            "error": delivery.error,
            "failed_message_id": str(delivery.failed_message_id) if delivery.failed_message_id is not None else None,
        },
    }


def _scope_json(scope: ScopeRow) -> dict[str, Any]:
    return {"mode": scope.mode, "projects": [p.key for p in scope.projects],
            "issue_types": [t.name for t in scope.issue_types], "visible": scope.visible}


class CreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, allow_blank=True)
    sync_type = serializers.ChoiceField(choices=SynchronizationType.choices,
                                        default=SynchronizationType.CLOUD_TO_CLOUD)
    partner_address = serializers.CharField(max_length=200)
    scope = ScopeSerializer(required=False)


def _scope_args(data: dict[str, Any] | None) -> dict[str, Any]:
    data = data or {}
    return {"scope_mode": data.get("mode", Scope.Mode.SHOW_ALL), "projects": data.get("projects", []),
            "issue_types": data.get("issue_types", [])}


@extend_schema(parameters=[OpenApiParameter("status", enum=InvitationStatus.values, required=False)])
class SynchronizationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = SynchronizationSerializer

    def get_queryset(self) -> Any:
        status_filter = self.request.query_params.get("status") or None
        if status_filter and status_filter not in InvitationStatus.values:
            raise DRFValidationError({"status": f"Unknown status {status_filter!r}."})
        return synchronization_list(status=status_filter)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # A page costs the same queries whatever its size: scopes and deliveries are read for the page.
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = list(page if page is not None else queryset)
        scopes, deliveries = scope_rows(rows), synchronization_deliveries(rows)
        data = [_list_item(s, scopes[s.scope_id], deliveries[s.pk]) for s in rows]
        return self.get_paginated_response(data) if page is not None else Response(data)

    def get_object(self) -> Synchronization:
        return get_object_or_404(Synchronization.listed.select_related("scope"), pk=self.kwargs["pk"])

    @extend_schema(request=CreateSerializer, responses={201: SynchronizationSerializer})
    def create(self, request: Request) -> Response:
        s = CreateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        sync = services.synchronization_create(name=s.validated_data["name"],
                     partner_address=s.validated_data["partner_address"], sync_type=s.validated_data["sync_type"],
                     user=request.user, **_scope_args(s.validated_data.get("scope")))
        return Response(SynchronizationSerializer(sync).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ScopeSerializer, responses=SynchronizationSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str) -> Response:
        s = ScopeSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        sync = services.synchronization_accept(synchronization=self.get_object(), user=request.user,
                     **_scope_args(s.validated_data))
        return Response(SynchronizationSerializer(sync).data)

    @extend_schema(request=ScopeSerializer, responses=SynchronizationSerializer)
    @action(detail=True, methods=["post"])
    def scope(self, request: Request, pk: str) -> Response:
        s = ScopeSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        sync = services.synchronization_scope_update(synchronization=self.get_object(), user=request.user,
                     **_scope_args(s.validated_data))
        return Response(SynchronizationSerializer(sync).data)

    @extend_schema(request=None, responses=SynchronizationSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        sync = services.synchronization_reject(synchronization=self.get_object(), user=request.user)
        return Response(SynchronizationSerializer(sync).data)

    # Not named `delete`: a method of that name would also answer the HTTP DELETE verb on the detail
    # route, a route the schema would not show.
    @extend_schema(request=None, responses=SynchronizationSerializer)
    @action(detail=True, methods=["post"], url_path="delete", url_name="delete")
    def delete_synchronization(self, request: Request, pk: str) -> Response:
        sync = services.synchronization_delete(synchronization=self.get_object(), user=request.user)
        return Response(SynchronizationSerializer(sync).data)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def remove(self, request: Request, pk: str) -> Response:
        services.synchronization_remove(synchronization=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=SynchronizationSerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        sync = self.get_object()
        if not outbox_retry_failed(link_id=sync.pk):
            raise Conflict("No failed message to retry.")
        return Response(SynchronizationSerializer(sync).data)
