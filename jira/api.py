"""A small slice of Jira Cloud's REST API v3 for the simulated site's own data."""
from __future__ import annotations

from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from jira.models import IssueType, Project


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(value))) if value is not None else default
    except ValueError:
        return default


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def project_search(request: Request) -> Response:
    start = _int(request.query_params.get("startAt"), 0, 0, 10**9)
    size = _int(request.query_params.get("maxResults"), 50, 1, 100)
    qs = Project.objects.all()
    total = qs.count()
    values = [{"id": str(p.pk), "key": p.key, "name": p.name, "projectTypeKey": p.project_type}
              for p in qs[start:start + size]]
    return Response({"startAt": start, "maxResults": size, "total": total,
                     "isLast": start + len(values) >= total, "values": values})


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def issue_types(request: Request) -> Response:
    return Response([{"id": str(t.pk), "name": t.name, "subtask": t.subtask, "hierarchyLevel": t.hierarchy_level}
                     for t in IssueType.objects.all()])


urlpatterns = [
    path("project/search", project_search, name="jira-project-search"),
    path("issuetype", issue_types, name="jira-issuetype"),
]
