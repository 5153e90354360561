"""What the inbox tests share: this site is alpha, beta is a known partner, and beta's signing key."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from tests.factories import ALPHA, BETA, PartnerKey

# Both partners listed, neither reachable: a test that would call out fails instead of waiting.
DIRECTORY = "alpha.atlassian.net=http://127.0.0.1:9,beta.atlassian.net=http://127.0.0.1:9"


@pytest.fixture
def inbox_site() -> Iterator[None]:
    with override_settings(SITE_DIRECTORY=DIRECTORY, SITE_ADDRESS=ALPHA):
        yield


@pytest.fixture
def key() -> PartnerKey:
    return PartnerKey(BETA)
