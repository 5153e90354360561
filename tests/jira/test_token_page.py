"""The API tokens page: a person creates a token (shown once), uses it, and revokes it."""
from __future__ import annotations

import base64
import re

import pytest
from django.test import Client

from jira.models import ApiToken
from tests.jira.conftest import Site

pytestmark = pytest.mark.django_db
PAGE = "/manage-profile/security/api-tokens/"


def _basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"member@example.com:{token}".encode()).decode()


def test_a_person_creates_uses_and_revokes_a_token(site: Site, client: Client) -> None:
    client.force_login(site.member)
    html = client.post(PAGE, {"label": "CI"}).content.decode()
    token = re.search(r'id="new-token" value="([^"]+)"', html)
    assert token and "will not be shown again" in html
    row = ApiToken.objects.get(user=site.member)
    assert row.label == "CI" and token.group(1) not in client.get(PAGE).content.decode()
    api = Client()
    assert api.get("/rest/api/3/myself", HTTP_AUTHORIZATION=_basic(token.group(1))).status_code == 200
    client.post(f"{PAGE}{row.pk}/revoke/")
    assert not ApiToken.objects.exists()
    assert api.get("/rest/api/3/myself", HTTP_AUTHORIZATION=_basic(token.group(1))).status_code == 401


def test_nobody_revokes_another_person_s_token_and_a_label_is_needed(site: Site, client: Client) -> None:
    client.force_login(site.member)
    assert client.post(PAGE, {"label": " "}).status_code == 400
    client.post(PAGE, {"label": "mine"})
    row = ApiToken.objects.get()
    client.force_login(site.other)
    client.post(f"{PAGE}{row.pk}/revoke/")
    assert ApiToken.objects.filter(pk=row.pk).exists()
    assert "mine" not in client.get(PAGE).content.decode()


def test_the_page_needs_a_login(client: Client) -> None:
    assert client.get(PAGE).status_code == 302
