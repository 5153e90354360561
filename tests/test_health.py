"""GET /healthz: 200 when the database and the broker answer, 503 with the reason when not."""
from __future__ import annotations

import socket

import pytest
from django.test import Client

from issuesync.celery import app

pytestmark = pytest.mark.django_db


def test_it_says_ok_when_database_and_broker_are_up(client: Client) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_it_answers_503_json_when_the_broker_is_down(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    monkeypatch.setattr(app.conf, "broker_url", f"redis://127.0.0.1:{closed_port}/0")
    monkeypatch.setattr(app.conf, "broker_write_url", None)
    r = client.get("/healthz")
    assert r.status_code == 503
    assert r["Content-Type"] == "application/json"
    assert r.json()["status"] == "error"
    assert r.json()["database"] == "ok"
    assert r.json()["broker"].startswith("error")
