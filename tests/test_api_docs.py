"""The API docs page works offline: Swagger UI comes from this server, never from a CDN."""
from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_docs_page_references_no_external_host(client: Client) -> None:
    client.force_login(User.objects.create_superuser("admin", password="admin"))
    r = client.get("/api/docs/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "swagger-ui" in html
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html) + re.findall(r"https?://[^\s\"'<>]+", html)
    assert urls, "the page loads nothing: the check below would be vacuous"
    external = [u for u in urls if u.startswith(("http://", "https://", "//")) and "testserver" not in u]
    assert external == []
    assert client.get("/api/schema/").status_code == 200


def test_the_schema_has_the_mapping_operations(client: Client) -> None:
    client.force_login(User.objects.create_superuser("admin", password="admin"))
    paths = client.get("/api/schema/?format=json").json()["paths"]
    base = "/api/synchronizations/{sync_pk}/mappings/"
    assert set(paths[base]) >= {"get", "post"}
    assert set(paths[base + "{id}/"]) >= {"get", "put", "delete"}
    assert "post" in paths[base + "{id}/enable/"] and "post" in paths[base + "{id}/disable/"]


def _router_operations() -> set[tuple[str, str]]:
    """Every (path, method) the admin API's routers serve, in the schema's spelling."""
    from issuesync.urls import mapping_router, router

    operations = set()
    for prefix, urls in (("/api/", router.urls), ("/api/synchronizations/{sync_pk}/", mapping_router.urls)):
        for pattern in urls:
            regex = str(pattern.pattern)
            actions = getattr(pattern.callback, "actions", None)
            if not actions or "(?P<format>" in regex:
                continue  # the API root page and the ".json" suffix variants
            path = prefix + regex.strip("^$").replace("(?P<pk>[^/.]+)", "{id}")
            # HEAD answers as GET does (DRF adds it to every GET route once served); schemas leave it out.
            operations |= {(path, method) for method in actions if method != "head"}
    return operations


def test_every_route_of_the_admin_api_is_in_the_schema(client: Client) -> None:
    client.force_login(User.objects.create_superuser("admin", password="admin"))
    paths = client.get("/api/schema/?format=json").json()["paths"]
    served = _router_operations()
    assert ("/api/synchronizations/{id}/delete/", "post") in served
    documented = {(path, method) for path, methods in paths.items() for method in methods
                  if path.startswith("/api/synchronizations")}
    # Issue sync's own routes (replication.urls, plain API views beside the routers).
    issue_sync = {
        ("/api/synchronizations/{sync_pk}/issue-sync/", "get"),
        ("/api/synchronizations/{sync_pk}/issue-sync/pause/", "post"),
        ("/api/synchronizations/{sync_pk}/issue-sync/resume/", "post"),
        ("/api/synchronizations/{sync_pk}/issue-errors/", "get"),
        ("/api/synchronizations/{sync_pk}/issue-errors/{link_pk}/retry/", "post"),
        ("/api/synchronizations/{sync_pk}/issue-errors/{link_pk}/skip/", "post"),
        ("/api/synchronizations/{sync_pk}/existing-issues/", "get"),
        ("/api/synchronizations/{sync_pk}/existing-issues/", "post"),
        ("/api/synchronizations/{sync_pk}/existing-issues/{run_pk}/", "get"),
        ("/api/synchronizations/{sync_pk}/existing-issues/{run_pk}/pause/", "post"),
        ("/api/synchronizations/{sync_pk}/existing-issues/{run_pk}/resume/", "post"),
        ("/api/synchronizations/{sync_pk}/existing-issues/{run_pk}/cancel/", "post"),
    }
    assert served | issue_sync == documented


def test_deleting_is_the_documented_action_not_the_http_delete_verb(client: Client) -> None:
    import uuid

    client.force_login(User.objects.create_superuser("admin", password="admin"))
    # No route answers DELETE on a synchronization: the delete action is POST .../delete/.
    assert client.delete(f"/api/synchronizations/{uuid.uuid4()}/").status_code == 405
