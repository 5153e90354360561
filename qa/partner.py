"""The partner site's admin REST API, called with an admin's API token.

Every call goes through the one outgoing seam (invitations.transport): only sites in
the directory are contacted, with its timeouts, size cap and no redirects.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from invitations import transport


class PartnerRefused(Exception):
    """The partner answered, and said no (or could not be reached)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class PartnerApi:
    address: str  # https://name.atlassian.net, as the directory lists it
    token: str

    def call(self, method: str, path: str, payload: Any = None) -> Any:
        """The JSON answer of `method path` (under the partner's site root), or None for 204."""
        headers = {"Authorization": f"Token {self.token}", "Accept": "application/json"}
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        try:
            response = transport.request(method, self.address, path, body=body, headers=headers)
        except transport.TransportError as e:
            raise PartnerRefused(str(e), status=e.status) from e
        return response.json() if response.body else None

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def post(self, path: str, payload: Any = None) -> Any:
        return self.call("POST", path, payload if payload is not None else {})

    def project_keys(self) -> set[str]:
        """The partner's projects, read like any Jira client would (paged)."""
        keys: set[str] = set()
        start = 0
        while True:
            page = self.get(f"/rest/api/3/project/search?startAt={start}&maxResults=100")
            keys |= {str(p["key"]) for p in page["values"]}
            if page["isLast"] or not page["values"]:
                return keys
            start += len(page["values"])

    def synchronization(self, sync_id: str) -> dict[str, Any] | None:
        """The partner's view of a synchronization, or None while it does not know it."""
        try:
            return dict(self.get(f"/api/synchronizations/{sync_id}/"))
        except PartnerRefused as e:
            if e.status == 404:
                return None
            raise
