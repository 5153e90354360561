"""Mappings in the local admin API: /api/synchronizations/<id>/mappings/..."""
from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from mappings.models import Mapping
from mappings.services import (
    LOCAL_DIRECTIONS,
    MappingInput,
    mapping_delete,
    mapping_local_view,
    mapping_save,
    mapping_set_enabled,
)
from synchronizations.models import Synchronization

DIRECTIONS = list(LOCAL_DIRECTIONS)


class IssueTypePairSerializer(serializers.Serializer):
    local = serializers.CharField(max_length=60)
    partner = serializers.CharField(max_length=60)


class FieldPairSerializer(serializers.Serializer):
    local = serializers.CharField(max_length=40)
    partner = serializers.CharField(max_length=40)
    direction = serializers.ChoiceField(choices=DIRECTIONS, default="both")


class ValuePairSerializer(serializers.Serializer):
    partner = serializers.CharField(max_length=120)
    local = serializers.CharField(max_length=120)


class MappingWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, allow_blank=True)
    local_project = serializers.CharField(max_length=10)
    partner_project = serializers.CharField(max_length=10)
    issue_types = IssueTypePairSerializer(many=True)
    field_pairs = FieldPairSerializer(many=True, required=False)
    value_maps = serializers.DictField(child=ValuePairSerializer(many=True), required=False)
    comments = serializers.ChoiceField(choices=["off", *DIRECTIONS], default="off")
    filter = serializers.CharField(max_length=500, allow_blank=True, required=False, default="")
    enabled = serializers.BooleanField(default=True)
    version = serializers.IntegerField(required=False, help_text="The version you edited (required to edit).")

    def to_input(self) -> MappingInput:
        d = self.validated_data
        return MappingInput(
            name=d["name"], local_project=d["local_project"], partner_project=d["partner_project"],
            issue_types=[(p["local"], p["partner"]) for p in d["issue_types"]],
            fields=[(p["local"], p["partner"], p["direction"]) for p in d.get("field_pairs", [])],
            value_maps={k: [(v["partner"], v["local"]) for v in pairs] for k, pairs in d.get("value_maps", {}).items()},
            comments=d["comments"], filter=d["filter"], enabled=d["enabled"],
        )


class MappingReadSerializer(MappingWriteSerializer):
    """A mapping as the API answers it (`mapping_data`): what is written, plus its id and its stamps."""

    id = serializers.UUIDField(read_only=True)
    warning = serializers.CharField(read_only=True)
    version = serializers.IntegerField()
    updated_at = serializers.DateTimeField(read_only=True)
    updated_by = serializers.CharField(read_only=True)


class VersionSerializer(serializers.Serializer):
    version = serializers.IntegerField(required=False)


def mapping_data(mapping: Mapping) -> dict[str, Any]:
    view = mapping_local_view(mapping, mapping.synchronization.role)
    return {
        "id": str(mapping.pk), "name": view.name, "local_project": view.local_project,
        "partner_project": view.partner_project,
        "issue_types": [{"local": a, "partner": b} for a, b in view.issue_types],
        "field_pairs": [{"local": a, "partner": b, "direction": d} for a, b, d in view.fields],
        "value_maps": {k: [{"partner": p, "local": lv} for p, lv in v] for k, v in view.value_maps.items()},
        "comments": view.comments, "filter": view.filter, "enabled": view.enabled, "warning": mapping.warning,
        "version": mapping.version, "updated_at": mapping.updated_at, "updated_by": mapping.updated_by,
    }


class MappingViewSet(viewsets.ViewSet):
    def _sync(self) -> Synchronization:
        return get_object_or_404(Synchronization.listed.select_related("scope"), pk=self.kwargs["sync_pk"])

    def _mapping(self, pk: str) -> Mapping:
        return get_object_or_404(Mapping.objects.select_related("synchronization"), pk=pk,
                                 synchronization=self._sync(), deleted_at__isnull=True)

    @extend_schema(responses=MappingReadSerializer(many=True))
    def list(self, request: Request, sync_pk: str) -> Response:
        sync = self._sync()
        mappings = Mapping.objects.filter(synchronization=sync, deleted_at__isnull=True).select_related(
            "synchronization")
        return Response([mapping_data(m) for m in mappings])

    @extend_schema(responses=MappingReadSerializer)
    def retrieve(self, request: Request, sync_pk: str, pk: str) -> Response:
        return Response(mapping_data(self._mapping(pk)))

    @extend_schema(request=MappingWriteSerializer, responses={201: MappingReadSerializer})
    def create(self, request: Request, sync_pk: str) -> Response:
        s = MappingWriteSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        mapping = mapping_save(synchronization=self._sync(), data=s.to_input(), user=request.user)
        return Response(mapping_data(mapping), status=status.HTTP_201_CREATED)

    @extend_schema(request=MappingWriteSerializer, responses=MappingReadSerializer)
    def update(self, request: Request, sync_pk: str, pk: str) -> Response:
        s = MappingWriteSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        if "version" not in s.validated_data:
            raise DRFValidationError({"version": "Send the version you edited."})
        mapping = mapping_save(synchronization=self._sync(), data=s.to_input(), mapping_id=pk,
                        base_version=s.validated_data["version"], user=request.user)
        return Response(mapping_data(mapping))

    @extend_schema(request=VersionSerializer, responses={204: None})
    def destroy(self, request: Request, sync_pk: str, pk: str) -> Response:
        s = VersionSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        mapping_delete(mapping=self._mapping(pk), base_version=s.validated_data.get("version"),
              user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=VersionSerializer, responses=MappingReadSerializer)
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, sync_pk: str, pk: str) -> Response:
        return self._enabled(request, pk, True)

    @extend_schema(request=VersionSerializer, responses=MappingReadSerializer)
    @action(detail=True, methods=["post"])
    def disable(self, request: Request, sync_pk: str, pk: str) -> Response:
        return self._enabled(request, pk, False)

    def _enabled(self, request: Request, pk: str, enabled: bool) -> Response:
        s = VersionSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        mapping = mapping_set_enabled(mapping=self._mapping(pk), enabled=enabled,
                        base_version=s.validated_data.get("version"), user=request.user)
        return Response(mapping_data(mapping))
