"""Mappings shared by two live sites: Not configured <-> Active on both, stale edits, scope narrowing."""
from __future__ import annotations

from typing import Any

import pytest

from sitectl import wait_for
from tests.live import Api, synchronization_accepted

pytestmark = pytest.mark.live


def _mapping(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Mobile bugs", "local_project": "BETA", "partner_project": "ALPHA",
        "issue_types": [{"local": "Bug", "partner": "Bug"}],
        "field_pairs": [{"local": "summary", "partner": "summary", "direction": "both"},
                        {"local": "priority", "partner": "priority", "direction": "from_partner"}],
        "value_maps": {"priority": [{"partner": "Highest", "local": "High"}]},
        "comments": "both", "filter": "labels = mobile", "enabled": True,
    }
    data.update(overrides)
    return data


def _mappings(api: Api, sync_id: str) -> list[dict[str, Any]]:
    return list(api.get(f"/synchronizations/{sync_id}/mappings/").json())


def test_one_enabled_mapping_makes_both_sides_active_and_disabling_it_not_configured(
    alpha_api: Api, beta_api: Api
) -> None:
    sync_id = synchronization_accepted(alpha_api, beta_api, "Mapped")
    r = beta_api.post(f"/synchronizations/{sync_id}/mappings/", _mapping())
    assert r.status_code == 201, r.text
    mapping = r.json()
    assert beta_api.status_of(sync_id) == "active"
    alpha_api.wait_status(sync_id, "active")
    seen = wait_for(lambda: _mappings(alpha_api, sync_id), timeout=10, what="alpha to show the mapping")
    assert isinstance(seen, list)
    # alpha sees the same mapping from its own side.
    assert seen[0]["local_project"] == "ALPHA" and seen[0]["partner_project"] == "BETA"
    assert seen[0]["version"] == mapping["version"] == 1
    assert {"local": "priority", "partner": "priority", "direction": "to_partner"} in seen[0]["field_pairs"]
    assert seen[0]["value_maps"] == {"priority": [{"partner": "High", "local": "Highest"}]}

    r = alpha_api.post(f"/synchronizations/{sync_id}/mappings/{mapping['id']}/disable/", {"version": 1})
    assert r.status_code == 200, r.text
    assert alpha_api.status_of(sync_id) == "not_configured"
    beta_api.wait_status(sync_id, "not_configured")

    # beta still holds version 1 in its editor: that edit is stale now and is refused.
    wait_for(lambda: _mappings(beta_api, sync_id)[0]["version"] == 2, timeout=10, what="beta to get version 2")
    r = beta_api.http.put(f"{beta_api.site.url}/api/synchronizations/{sync_id}/mappings/{mapping['id']}/",
                          json=_mapping(name="Stale", version=1), timeout=15)
    assert r.status_code == 409
    assert "changed by admin (https://alpha.atlassian.net)" in r.json()["detail"]
    assert _mappings(beta_api, sync_id)[0]["name"] == "Mobile bugs"


def test_narrowing_scope_disables_the_mapping_on_both_sides_with_a_warning(alpha_api: Api, beta_api: Api) -> None:
    sync_id = synchronization_accepted(alpha_api, beta_api, "Narrowed")
    r = beta_api.post(f"/synchronizations/{sync_id}/mappings/", _mapping())
    assert r.status_code == 201, r.text
    alpha_api.wait_status(sync_id, "active")

    r = alpha_api.post(f"/synchronizations/{sync_id}/scope/", {"mode": "hide_only_selected", "projects": ["ALPHA"]})
    assert r.status_code == 200, r.text
    assert alpha_api.status_of(sync_id) == "not_configured"
    beta_api.wait_status(sync_id, "not_configured")
    for api in (alpha_api, beta_api):
        (m,) = _mappings(api, sync_id)
        assert m["enabled"] is False
        assert "no longer shows ALPHA" in m["warning"]


def test_it_refuses_an_incompatible_field_pair_and_says_why(alpha_api: Api, beta_api: Api) -> None:
    sync_id = synchronization_accepted(alpha_api, beta_api, "Incompatible")
    r = beta_api.post(f"/synchronizations/{sync_id}/mappings/", _mapping(
        field_pairs=[{"local": "summary", "partner": "priority", "direction": "both"}]))
    assert r.status_code == 400
    assert "Summary (text) cannot be mapped to Priority (select list)" in r.json()["fields"][0]
    assert beta_api.status_of(sync_id) == "not_configured"
