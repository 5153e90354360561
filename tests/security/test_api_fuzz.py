"""Schemathesis against the admin API's own OpenAPI schema on a live site: no input makes it answer 5xx."""
from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.live import Api

pytestmark = pytest.mark.live


def test_no_input_makes_the_admin_api_fail(alpha_api: Api) -> None:
    loaded = schemathesis.openapi.from_url(alpha_api.site.url + "/api/schema/?format=json",
                                           headers=dict(alpha_api.http.headers),
                                           cookies=alpha_api.http.cookies.get_dict())
    # The synchronizations admin API only: other endpoints (the site switch) would change the shared sites.
    schema = loaded.include(path_regex="^/api/synchronizations")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 5, [op.label for op in operations]
    calls: list[str] = []

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def probe(case: Any) -> None:
            response = case.call(base_url=alpha_api.site.url, session=alpha_api.http, timeout=30)
            calls.append(f"{case.method} {response.status_code}")
            assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])

        probe()
    assert len(calls) >= 2 * len(operations)
