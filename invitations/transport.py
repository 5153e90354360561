"""The one seam for outgoing server-to-server HTTP.

Only addresses in the site directory are contacted; redirects are never
followed; every call has connect and read timeouts and a response size cap.
Failures are classified: transient ones are retried, permanent ones shown.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone

from invitations.directory import SiteDirectory, UnknownSite

RETRYABLE_STATUSES = {408, 409, 425, 429}

_local = threading.local()


def _session() -> requests.Session:
    """This thread's HTTP session, set up once rather than for every request.

    One per thread (a Session is not thread-safe) and per process (a forked child
    must not share its parent's state). It stores no cookies: what one answer
    sets is never sent back with the next request. It ignores proxy variables
    and ~/.netrc (the directory says where each partner runs, and no credential
    but the signature goes out), which also spares reading the environment on
    every request; a CA bundle named by REQUESTS_CA_BUNDLE still applies.
    """
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None or getattr(_local, "pid", None) != os.getpid():
        session = requests.Session()
        session.trust_env = False
        session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        _local.session, _local.pid = session, os.getpid()
    return session


class TransportError(Exception):
    def __init__(
        self, message: str, *, permanent: bool, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after


@dataclass
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None


def _error_text(body: bytes) -> str:
    try:
        data = json.loads(body)
        if isinstance(data, dict) and "error" in data:
            return str(data["error"])
    except ValueError:
        pass
    return body[:200].decode("utf-8", "replace")


def request(
    method: str, address: str, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None,
    read_timeout: float | None = None,
) -> Response:
    """Send one request to the site known as `address`; raise TransportError unless it answers 2xx.

    `read_timeout` may shorten the site's OUTGOING_READ_TIMEOUT for a call that should never take long.
    """
    try:
        base = SiteDirectory.load().base_url(address)
    except UnknownSite as e:
        raise TransportError(str(e), permanent=True) from e
    url = base + path
    # Every request on a connection of its own: a kept-alive connection the partner
    # closed while idle would fail the next POST (which is never resent blindly),
    # turning a quiet moment into a retry.
    headers = {**(headers or {}), "Connection": "close"}
    session = _session()
    try:
        with session.request(
            method,
            url,
            data=body,
            headers=headers,
            timeout=(settings.OUTGOING_CONNECT_TIMEOUT,
                     min(settings.OUTGOING_READ_TIMEOUT, read_timeout or settings.OUTGOING_READ_TIMEOUT)),
            allow_redirects=False,
            stream=True,
        ) as r:
            chunks, size = [], 0
            for chunk in r.iter_content(64 * 1024):
                size += len(chunk)
                if size > settings.OUTGOING_MAX_RESPONSE_BYTES:
                    raise TransportError(f"{address} answered more than the size cap", permanent=True)
                chunks.append(chunk)
            content = b"".join(chunks)
            status = r.status_code
            retry_after = _retry_after(r.headers.get("Retry-After"))
    except requests.Timeout as e:
        raise TransportError(f"{address} did not answer in time", permanent=False) from e
    except requests.RequestException as e:
        raise TransportError(f"{address} could not be reached", permanent=False) from e
    finally:
        session.close()  # not every server echoes "Connection: close": never keep the socket
    if 200 <= status < 300:
        return Response(status, content)
    if 300 <= status < 400:
        raise TransportError(f"{address} answered a redirect ({status}); redirects are not followed",
                             permanent=True, status=status)
    raise refusal(address, status, _error_text(content), retry_after)


def refusal(address: str, status: int, error: str, retry_after: Any = None) -> TransportError:
    """A partner's non-2xx answer, to a request or to one message of a batch, classified."""
    text = f"{address} answered {status}: {error}"
    permanent = status < 500 and status not in RETRYABLE_STATUSES
    wait = float(retry_after) if isinstance(retry_after, int | float) else None
    return TransportError(text, permanent=permanent, status=status, retry_after=wait)
