"""The seed's lifecycle between two live sites (processes, Celery workers, Redis, PostgreSQL)."""
from __future__ import annotations

import pytest

from tests.live import Api

pytestmark = pytest.mark.live


def _invite(alpha_api: Api, name: str, **scope: object) -> str:
    r = alpha_api.post("/synchronizations/", {"name": name, "sync_type": "cloud_to_cloud",
                                              "partner_address": "https://beta.atlassian.net",
                                              "scope": scope or {"mode": "show_all"}})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "invitation_sent"
    return str(r.json()["id"])


def test_it_invites_and_the_partner_accepts(alpha_api: Api, beta_api: Api) -> None:
    sync_id = _invite(alpha_api, "Accept me", mode="show_only_selected", projects=["ALPHA"])
    received = beta_api.wait_status(sync_id, "invitation_received")
    assert received["name"] == "Accept me"
    assert received["partner_address"] == "https://alpha.atlassian.net"
    assert [p["key"] for p in received["partner_visible"]["projects"]] == ["ALPHA"]

    r = beta_api.post(f"/synchronizations/{sync_id}/accept/", {"mode": "hide_only_selected", "projects": ["MKT"]})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "not_configured"
    seen = alpha_api.wait_status(sync_id, "not_configured")
    assert sorted(p["key"] for p in seen["partner_visible"]["projects"]) == ["API", "BETA"]


def test_it_rejects_and_both_sides_can_remove_the_record(alpha_api: Api, beta_api: Api) -> None:
    sync_id = _invite(alpha_api, "Reject me")
    beta_api.wait_status(sync_id, "invitation_received")
    assert beta_api.post(f"/synchronizations/{sync_id}/reject/").json()["status"] == "rejected"
    alpha_api.wait_status(sync_id, "rejected")
    assert alpha_api.post(f"/synchronizations/{sync_id}/remove/").status_code == 204
    assert alpha_api.get(f"/synchronizations/{sync_id}/").status_code == 404
    assert beta_api.status_of(sync_id) == "rejected"  # removal is local


@pytest.mark.parametrize("deleter", ["alpha", "beta"])
def test_either_side_deletes_and_both_show_deleted(alpha_api: Api, beta_api: Api, deleter: str) -> None:
    sync_id = _invite(alpha_api, f"Delete by {deleter}")
    beta_api.wait_status(sync_id, "invitation_received")
    beta_api.post(f"/synchronizations/{sync_id}/accept/", {"mode": "show_all"})
    alpha_api.wait_status(sync_id, "not_configured")
    api, other = (alpha_api, beta_api) if deleter == "alpha" else (beta_api, alpha_api)
    assert api.post(f"/synchronizations/{sync_id}/delete/").json()["status"] == "deleted"
    other.wait_status(sync_id, "deleted")
    # Every message on both sides ends delivered: nothing stuck, nothing failed.
    for side in (alpha_api, beta_api):
        assert side.sync(sync_id)["delivery"]["state"] == "delivered"
