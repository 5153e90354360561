"""Nothing carries over from one request to a partner to the next: no connection, no cookie."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import override_settings

from invitations import transport


class _KeepAlive(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # would keep the connection open unless the client says close
    seen: list[tuple[int, str]]  # (client port, Cookie header) per request

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append((self.client_address[1], self.headers.get("Cookie", "")))
        body = b'{"status": "applied"}'
        self.send_response(200)
        self.send_header("Set-Cookie", "session=from-the-partner; Path=/")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def partner() -> Iterator[type[_KeepAlive]]:
    handler = type("Handler", (_KeepAlive,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with override_settings(SITE_DIRECTORY=f"beta.atlassian.net=http://127.0.0.1:{server.server_address[1]}"):
            yield handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _post() -> transport.Response:
    return transport.request("POST", "https://beta.atlassian.net", "/inbox", body=b"{}",
                             headers={"Content-Type": "application/json"})


def test_each_message_goes_on_a_connection_of_its_own(partner: type[_KeepAlive]) -> None:
    # A kept-alive connection the partner closed while idle would fail the next POST:
    # a fault proxy, like the partner, sees every delivery as a new connection.
    for _ in range(3):
        assert _post().json() == {"status": "applied"}
    assert len({port for port, _ in partner.seen}) == 3, partner.seen


def test_a_cookie_the_partner_sets_is_never_sent_back(partner: type[_KeepAlive]) -> None:
    _post()
    _post()
    assert [cookie for _, cookie in partner.seen] == ["", ""]


def test_requests_from_several_threads_are_all_answered(partner: type[_KeepAlive]) -> None:
    answers: list[object] = []
    threads = [threading.Thread(target=lambda: answers.append(_post().json())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert answers == [{"status": "applied"}] * 4
