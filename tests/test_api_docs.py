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
