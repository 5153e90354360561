from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.live import Api, LiveSites, _pg, live_sites, template_database


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = template_database(uuid.uuid4().hex[:8])
    yield name
    _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sites(pg_template: str) -> Iterator[LiveSites]:
    """alpha and beta, live, shared by the tests that only add their own synchronizations."""
    # Both install a test app that registers one more message kind (tests/wirekind_app).
    with live_sites(pg_template, EXTRA_APPS="tests.wirekind_app") as s:
        yield s


@pytest.fixture(scope="session")
def alpha_api(sites: LiveSites) -> Api:
    return Api(sites["alpha"])


@pytest.fixture(scope="session")
def beta_api(sites: LiveSites) -> Api:
    return Api(sites["beta"])
