"""A small threaded TCP proxy put between the sites to make the network misbehave on demand.

Modes (each applies to new connections; `times` limits how many before it falls back to pass):
- pass: bytes flow both ways untouched;
- down: the connection is reset as soon as it is accepted (the partner is unreachable);
- answer: a canned HTTP response (for example 503, or 429 with Retry-After) without forwarding;
Only POSTs (deliveries) are hurt; other requests always pass.
- delay: the request is forwarded at once, the response held back `delay` seconds;
- cut: the request is forwarded and answered by the partner, then the connection is reset
  before the response reaches the sender (the partner committed; the sender saw an error).
"""
from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass


@dataclass
class Fault:
    mode: str = "pass"
    times: int | None = None  # None: until changed
    delay: float = 0.0
    response: bytes = b""


def http_response(status: int, reason: str, headers: dict[str, str] | None = None) -> bytes:
    body = b'{"error": "injected by the test proxy"}'
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json",
             f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _reset(sock: socket.socket) -> None:
    # SO_LINGER 0 makes close() send RST: the client sees "connection reset", not a clean EOF.
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class Proxy:
    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(128)
        self.port: int = self.server.getsockname()[1]
        self.upstream: int | None = None
        self.fault = Fault()
        self.lock = threading.Lock()
        self.seen: dict[str, int] = {}  # connections handled per mode, for the reports
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def set(self, mode: str, *, times: int | None = None, delay: float = 0.0, response: bytes = b"") -> None:
        with self.lock:
            self.fault = Fault(mode, times, delay, response)

    def _take(self) -> Fault:
        with self.lock:
            f = self.fault
            if f.times is not None:
                f.times -= 1
                if f.times <= 0:
                    self.fault = Fault()
            self.seen[f.mode] = self.seen.get(f.mode, 0) + 1
            return f

    def close(self) -> None:
        self._closed = True
        self.server.close()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        # Only deliveries (POST to the inbox) are hurt; discovery GETs, which an admin's
        # invitation form makes synchronously, pass untouched.
        client.settimeout(10)
        try:
            head = client.recv(8, socket.MSG_PEEK)
        except OSError:
            client.close()
            return
        client.settimeout(None)
        fault = self._take() if head.startswith(b"POST") else Fault()
        if fault.mode == "down":
            _reset(client)
            return
        if fault.mode == "answer":
            client.settimeout(5)
            try:
                client.recv(65536)  # the request head; the body may follow, it is ignored
                client.sendall(fault.response)
            except OSError:
                pass
            client.close()
            return
        if self.upstream is None:
            _reset(client)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream), timeout=30)
        except OSError:
            _reset(client)
            return
        threading.Thread(target=self._pipe, args=(client, upstream, None), daemon=True).start()
        self._pipe(upstream, client, fault)

    def _pipe(self, src: socket.socket, dst: socket.socket, fault: Fault | None) -> None:
        """Copy src to dst; `fault` is set on the response direction only."""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if fault is not None and fault.mode == "cut":
                    # The partner has answered, so it has committed: lose the answer.
                    _reset(dst)
                    src.close()
                    return
                if fault is not None and fault.mode == "delay" and fault.delay:
                    time.sleep(fault.delay)  # holding the answer back is the fault itself
                    fault = None
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class Gate:
    """A plain TCP forwarder on a fixed port that can be shut and opened again: a broker's port closed.

    Shutting stops listening and resets every open connection, so clients see the port closed at once
    (connection refused for new ones), not a connection that quietly keeps working.
    """

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port: int = probe.getsockname()[1]
        probe.close()
        self.lock = threading.Lock()
        self.live: set[socket.socket] = set()
        self.server: socket.socket | None = None
        self.open()

    def open(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(128)
        self.server = server
        threading.Thread(target=self._accept_loop, args=(server,), daemon=True).start()

    def shut(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.close()
        with self.lock:
            live, self.live = self.live, set()
        for s in live:
            _reset(s)

    def _accept_loop(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self.lock:
                self.live |= {client, upstream}
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        with self.lock:
            self.live -= {src, dst}
