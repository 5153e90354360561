"""The site directory is the allowlist: the transport contacts nothing else, follows no redirect, reads no more
than the cap."""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import override_settings

from invitations import transport
from invitations.directory import InvalidAddress, SiteDirectory, UnknownSite, normalize_address
from invitations.transport import TransportError

DIRECTORY = "alpha.atlassian.net=http://127.0.0.1:8001,beta.atlassian.net=http://127.0.0.1:8002"
REFUSED = [
    "https://gamma.atlassian.net",  # well formed, but not listed
    "https://10.0.0.1",
    "http://127.0.0.1:8002",  # where beta really runs: still only reachable by its address
    "https://localhost",
    "https://169.254.169.254/latest/meta-data",
    "http://beta.atlassian.net",
    "ftp://beta.atlassian.net",
    "file:///etc/passwd",
    "gopher://beta.atlassian.net",
    "https://beta.atlassian.net.evil.example",
    "https://beta.atlassian.net@10.0.0.1",
    "",
]


def test_it_maps_listed_addresses_to_where_the_sites_run() -> None:
    directory = SiteDirectory.from_setting(DIRECTORY)
    assert directory.base_url("https://beta.atlassian.net") == "http://127.0.0.1:8002"
    assert directory.base_url(" HTTPS://Alpha.atlassian.net/ ") == "http://127.0.0.1:8001"
    assert "https://beta.atlassian.net" in directory


@pytest.mark.parametrize("address", REFUSED)
def test_it_refuses_addresses_it_does_not_list(address: str) -> None:
    directory = SiteDirectory.from_setting(DIRECTORY)
    with pytest.raises(UnknownSite):
        directory.base_url(address)
    assert address not in directory


@pytest.mark.parametrize("address", ["http://beta.atlassian.net", "https://10.0.0.1", "beta.atlassian.net"])
def test_an_address_must_be_in_jira_cloud_form(address: str) -> None:
    with pytest.raises(InvalidAddress, match="yourinstancename.atlassian.net"):
        normalize_address(address)


@pytest.mark.parametrize("setting", ["alpha.atlassian.net", "alpha.atlassian.net=ftp://127.0.0.1:21",
                                     "alpha.atlassian.net=file:///tmp/x", "10.0.0.1=http://127.0.0.1:8001"])
def test_a_malformed_directory_setting_is_refused(setting: str) -> None:
    with pytest.raises(ValueError):
        SiteDirectory.from_setting(setting)


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Any attempt to open a socket connection is recorded and fails the call."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> None:
        attempts.append(args)
        raise AssertionError(f"a connection was attempted: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


@override_settings(SITE_DIRECTORY=DIRECTORY)
@pytest.mark.parametrize("address", REFUSED)
def test_the_transport_never_connects_to_an_unlisted_address(address: str, no_connections: list[Any]) -> None:
    with pytest.raises(TransportError) as e:
        transport.request("GET", address, "/.well-known/issue-sync")
    assert e.value.permanent
    assert no_connections == []


def test_the_connection_guard_would_notice_a_connection(no_connections: list[Any]) -> None:
    # Proves the fixture above bites: were the transport to connect, those tests would fail.
    with override_settings(SITE_DIRECTORY="beta.atlassian.net=http://127.0.0.1:9"), \
            pytest.raises(AssertionError, match="a connection was attempted"):
        transport.request("GET", "https://beta.atlassian.net", "/")
    assert len(no_connections) == 1


class _Recorder(BaseHTTPRequestHandler):
    paths: list[str]
    status = 200
    body = b"{}"
    headers_out: dict[str, str] = {}

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.paths.append(self.path)
        self.send_response(self.status)
        for name, value in self.headers_out.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def partner() -> Iterator[tuple[ThreadingHTTPServer, type[_Recorder]]]:
    """A tiny HTTP server on a free port standing in for a listed site; what it answers is set per test."""
    handler = type("Handler", (_Recorder,), {"paths": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _listed(server: ThreadingHTTPServer) -> str:
    return f"beta.atlassian.net=http://127.0.0.1:{server.server_address[1]}"


def test_it_reaches_a_listed_site(partner: tuple[ThreadingHTTPServer, type[_Recorder]]) -> None:
    server, handler = partner
    handler.body = b'{"ok": true}'
    with override_settings(SITE_DIRECTORY=_listed(server)):
        assert transport.request("GET", "https://beta.atlassian.net", "/hello").json() == {"ok": True}
    assert handler.paths == ["/hello"]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_it_does_not_follow_redirects(partner: tuple[ThreadingHTTPServer, type[_Recorder]], status: int) -> None:
    server, handler = partner
    handler.status = status
    handler.headers_out = {"Location": f"http://127.0.0.1:{server.server_address[1]}/elsewhere"}
    with override_settings(SITE_DIRECTORY=_listed(server)), pytest.raises(TransportError) as e:
        transport.request("GET", "https://beta.atlassian.net", "/start")
    assert e.value.permanent and e.value.status == status
    assert "redirect" in str(e.value)
    assert handler.paths == ["/start"]  # the Location was never fetched


def test_it_caps_the_response_size(partner: tuple[ThreadingHTTPServer, type[_Recorder]]) -> None:
    server, handler = partner
    handler.body = b"x" * 5000
    with override_settings(SITE_DIRECTORY=_listed(server), OUTGOING_MAX_RESPONSE_BYTES=1000), \
            pytest.raises(TransportError, match="size cap") as e:
        transport.request("GET", "https://beta.atlassian.net", "/big")
    assert e.value.permanent
    with override_settings(SITE_DIRECTORY=_listed(server), OUTGOING_MAX_RESPONSE_BYTES=5000):
        assert len(transport.request("GET", "https://beta.atlassian.net", "/big").body) == 5000


def test_an_unreachable_listed_site_is_a_transient_failure() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    with override_settings(SITE_DIRECTORY=f"beta.atlassian.net=http://127.0.0.1:{closed_port}"), \
            pytest.raises(TransportError) as e:
        transport.request("GET", "https://beta.atlassian.net", "/")
    assert not e.value.permanent
