"""One live site reads the other's discovery through the site directory, as its worker does."""
from __future__ import annotations

import json

import pytest
import requests

from tests.live import LiveSites

pytestmark = pytest.mark.live

FETCH = """
import json
from invitations.discovery import partner_discover
found = partner_discover("https://{name}.atlassian.net")
print(json.dumps({{"address": found.address, "key_id": found.key_id, "pem": found.public_key_pem,
                  "active": found.active, "protocol_version": found.protocol_version}}))
"""


def _served(sites: LiveSites, name: str) -> dict[str, object]:
    r = requests.get(sites[name].url + "/.well-known/issue-sync", timeout=10)
    r.raise_for_status()
    return dict(r.json())


@pytest.mark.parametrize(("reader", "partner"), [("alpha", "beta"), ("beta", "alpha")])
def test_a_site_fetches_its_partners_discovery_through_the_directory(sites: LiveSites, reader: str,
                                                                      partner: str) -> None:
    result = sites[reader].manage("shell", "-c", FETCH.format(name=partner))
    found = json.loads(result.stdout.strip().splitlines()[-1])
    served = _served(sites, partner)
    key = served["public_key"]
    assert isinstance(key, dict)
    assert found == {"address": f"https://{partner}.atlassian.net", "key_id": key["key_id"], "pem": key["pem"],
                     "active": True, "protocol_version": served["protocol_version"]}
    assert found["key_id"] != _served(sites, reader)["public_key"]["key_id"]  # type: ignore[index]


def test_a_site_refuses_to_fetch_an_address_outside_the_directory(sites: LiveSites) -> None:
    result = sites["alpha"].manage("shell", "-c", FETCH.format(name="gamma"), check=False)
    assert result.returncode != 0
    assert "gamma.atlassian.net is not a site this server knows" in result.stderr
