"""A message kind owned by another app travels between two live sites, with nothing in invitations/ changed.

tests/wirekind_app registers `wirekind_ping` from its AppConfig.ready(); both live sites install
it (EXTRA_APPS). A ping that does not apply is refused for good and recorded, and does not hold
back what follows it: neither a ping on another stream nor the lifecycle's delete.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from sitectl import wait_for
from tests.live import Api, LiveSites, admin_session

pytestmark = pytest.mark.live

INBOUND = ("import json; from invitations.models import InboundMessage as M; "
           "print(json.dumps(list(M.objects.filter(synchronization_id='{sid}', message_type='wirekind_ping')"
           ".order_by('received_at').values_list('stream', 'sequence', 'outcome'))))")
OUTBOX = ("import json; from invitations.models import OutboxMessage as M; "
          "print(json.dumps(list(M.objects.filter(synchronization_id='{sid}', message_type='wirekind_ping')"
          ".order_by('created_at').values_list('stream', 'state'))))")
PING = ("import uuid; from django.db import transaction; from invitations.outbox import outbox_write\n"
        "with transaction.atomic(): outbox_write(link_id=uuid.UUID('{sid}'), message_type='wirekind_ping', "
        "payload={{'text': '{text}'}}, stream='{stream}')")


def _shell(sites: LiveSites, name: str, code: str) -> Any:
    r = sites[name].manage("shell", "-c", code)
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_a_kind_registered_by_a_test_app_travels_and_a_refused_one_holds_nothing_back(
    sites: LiveSites, alpha_api: Api, beta_api: Api
) -> None:
    r = alpha_api.post("/synchronizations/", {"name": "Pings", "sync_type": "cloud_to_cloud",
                                              "partner_address": "https://beta.atlassian.net",
                                              "scope": {"mode": "show_all"}})
    sid = str(r.json()["id"])
    beta_api.wait_status(sid, "invitation_received")
    assert beta_api.post(f"/synchronizations/{sid}/accept/", {"mode": "show_all"}).status_code == 200
    alpha_api.wait_status(sid, "not_configured")

    # On the lifecycle stream: refused for good at beta; then a ping on its own stream, then a delete.
    sites["alpha"].manage("shell", "-c", PING.format(sid=sid, text="refuse", stream=""))
    sites["alpha"].manage("shell", "-c", PING.format(sid=sid, text="hello", stream="pings"))
    assert alpha_api.post(f"/synchronizations/{sid}/delete/").json()["status"] == "deleted"

    beta_api.wait_status(sid, "deleted")
    wait_for(lambda: len(_shell(sites, "beta", INBOUND.format(sid=sid))) == 2, timeout=30,
             what="beta to record both pings")
    assert sorted(map(tuple, _shell(sites, "beta", INBOUND.format(sid=sid)))) == [
        ("", 2, "refused"), ("pings", 1, "applied")]
    # The sender shows the refused one as failed (its admin may retry it); the other was delivered.
    wait_for(lambda: sorted(map(tuple, _shell(sites, "alpha", OUTBOX.format(sid=sid))))
             == [("", "failed"), ("pings", "delivered")], timeout=30, what="alpha to record both outcomes")
    # Beta's history describes the kind in the words its app registered.
    page = admin_session(sites["beta"]).get(
        f"{sites['beta'].url}/plugins/servlet/ac/issue-sync/synchronizations/{sid}/", timeout=15)
    assert page.status_code == 200
    assert "Ping “hello”" in page.text and "this ping does not apply" in page.text
