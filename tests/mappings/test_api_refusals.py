"""Each refusal of the mappings API: status code, message, and nothing changed."""
from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from invitations.models import OutboxMessage
from jira.models import IssueType, Project
from mappings.fields import site_fields
from mappings.models import Mapping
from synchronizations.models import Role, Scope, Synchronization
from synchronizations.states import InvitationStatus
from tests.factories import link_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> APIClient:
    client = APIClient()
    client.force_authenticate(User.objects.create_superuser("admin", "a@example.com", "admin"))
    return client


@pytest.fixture
def sync() -> Synchronization:
    Project.objects.create(key="ALPHA", name="Alpha")
    IssueType.objects.create(name="Bug")
    sync = Synchronization.objects.create(
        name="S", partner_address="https://beta.atlassian.net", role=Role.INVITER,
        status=InvitationStatus.NOT_CONFIGURED, scope=Scope.objects.create(),
        partner_visible={"projects": [{"key": "BETA", "name": "Beta"}], "issue_types": [{"name": "Bug"}],
                         "mappable_fields": site_fields()},
    )
    link_create(sync=sync, partner_address=sync.partner_address, partner_key_id="k", partner_public_key_pem="pem",
                last_sent=1, last_received=1)
    return sync


def _data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": "M", "local_project": "ALPHA", "partner_project": "BETA",
                            "issue_types": [{"local": "Bug", "partner": "Bug"}],
                            "field_pairs": [{"local": "summary", "partner": "summary", "direction": "both"}]}
    data.update(overrides)
    return data


def _url(sync: Synchronization, rest: str = "") -> str:
    return f"/api/synchronizations/{sync.pk}/mappings/{rest}"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "Enter a name"),
        ({"local_project": "NOPE"}, "local_project", "this site's projects"),
        ({"partner_project": "NOPE"}, "partner_project", "partner's projects"),
        ({"issue_types": []}, "issue_types", "at least one pair"),
        ({"issue_types": [{"local": "Bug", "partner": "Epic"}]}, "issue_types", "Epic is not an issue type"),
        ({"field_pairs": [{"local": "duedate", "partner": "labels", "direction": "both"}]}, "fields",
         "Due date (date) cannot be mapped to Labels (labels)"),
        ({"field_pairs": [{"local": "nope", "partner": "summary", "direction": "both"}]}, "fields",
         "not a field of this site"),
        ({"value_maps": {"summary": [{"partner": "a", "local": "b"}]}}, "value_maps", "only be mapped"),
        ({"field_pairs": [{"local": "priority", "partner": "priority", "direction": "both"}],
          "value_maps": {"priority": [{"partner": "Blocker", "local": "Urgent"}]}}, "value_maps",
         "Urgent is not a value of Priority"),
        ({"filter": "reporter = me"}, "filter", "Unknown field 'reporter'"),
    ],
)
def test_it_refuses_bad_input_and_stores_nothing(
    admin_client: APIClient, sync: Synchronization, overrides: dict[str, Any], field: str, message: str
) -> None:
    r = admin_client.post(_url(sync), _data(**overrides), format="json")
    assert r.status_code == 400
    assert any(message in m for m in r.json()[field]), r.json()
    assert not Mapping.objects.exists()
    assert not OutboxMessage.objects.exists()
    sync.refresh_from_db()
    assert sync.status == InvitationStatus.NOT_CONFIGURED


def test_it_refuses_mappings_before_the_invitation_is_accepted(admin_client: APIClient, sync: Synchronization) -> None:
    Synchronization.objects.filter(pk=sync.pk).update(status=InvitationStatus.INVITATION_SENT)
    r = admin_client.post(_url(sync), _data(), format="json")
    assert r.status_code == 409
    assert "once the invitation is accepted" in r.json()["detail"]
    assert not Mapping.objects.exists()


def test_it_refuses_a_stale_edit(admin_client: APIClient, sync: Synchronization) -> None:
    created = admin_client.post(_url(sync), _data(), format="json").json()
    edited = admin_client.put(_url(sync, f"{created['id']}/"), _data(name="v2", version=1), format="json")
    assert edited.status_code == 200
    r = admin_client.put(_url(sync, f"{created['id']}/"), _data(name="stale", version=1), format="json")
    assert r.status_code == 409
    assert "Reload to see the change" in r.json()["detail"]
    assert Mapping.objects.get().name == "v2"
    assert OutboxMessage.objects.filter(message_type="mapping_saved").count() == 2


def test_an_edit_without_a_version_is_refused(admin_client: APIClient, sync: Synchronization) -> None:
    created = admin_client.post(_url(sync), _data(), format="json").json()
    r = admin_client.put(_url(sync, f"{created['id']}/"), _data(name="x"), format="json")
    assert r.status_code == 400
    assert "version" in r.json()


def test_enabling_and_deleting_drive_the_status(admin_client: APIClient, sync: Synchronization) -> None:
    created = admin_client.post(_url(sync), _data(), format="json").json()
    sync.refresh_from_db()
    assert sync.status == InvitationStatus.ACTIVE
    assert admin_client.post(_url(sync, f"{created['id']}/disable/"), {"version": 1}, format="json").status_code == 200
    sync.refresh_from_db()
    assert sync.status == InvitationStatus.NOT_CONFIGURED
    assert admin_client.post(_url(sync, f"{created['id']}/enable/"), {"version": 2}, format="json").status_code == 200
    assert admin_client.delete(_url(sync, f"{created['id']}/"), {"version": 3}, format="json").status_code == 204
    sync.refresh_from_db()
    assert sync.status == InvitationStatus.NOT_CONFIGURED
    assert admin_client.get(_url(sync)).json() == []
    assert admin_client.get(_url(sync, f"{created['id']}/")).status_code == 404


def _documented_fields(schema: dict[str, Any], path: str, method: str, code: str) -> set[str]:
    """The properties the schema documents for one item of a response body ($ref, arrays and pages resolved)."""
    def resolve(body: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in body:
            body = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
        return resolve(body["items"]) if body.get("type") == "array" else body

    body = resolve(schema["paths"][path][method]["responses"][code]["content"]["application/json"]["schema"])
    if "results" in body["properties"]:  # a page: {count, next, previous, results}
        body = resolve(body["properties"]["results"])
    return set(body["properties"])


def test_the_documented_response_bodies_are_the_real_ones(admin_client: APIClient, sync: Synchronization) -> None:
    schema = admin_client.get("/api/schema/?format=json").json()
    base = "/api/synchronizations/{sync_pk}/mappings/"
    created = admin_client.post(_url(sync), _data(), format="json")
    assert created.status_code == 201
    real = {
        (base, "post", "201"): created.json(),
        (base, "get", "200"): admin_client.get(_url(sync)).json()[0],
        (base + "{id}/", "get", "200"): admin_client.get(_url(sync, f"{created.json()['id']}/")).json(),
        (base + "{id}/disable/", "post", "200"): admin_client.post(
            _url(sync, f"{created.json()['id']}/disable/"), {"version": 1}, format="json").json(),
        ("/api/synchronizations/{id}/", "get", "200"): admin_client.get(f"/api/synchronizations/{sync.pk}/").json(),
        ("/api/synchronizations/", "get", "200"): admin_client.get("/api/synchronizations/").json()["results"][0],
    }
    for (path, method, code), body in real.items():
        assert _documented_fields(schema, path, method, code) == set(body), (path, method)
