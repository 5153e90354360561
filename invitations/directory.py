"""The site directory: where each known NAME.atlassian.net site really runs.

It is also the allowlist for server-to-server traffic: an address an admin
typed is only ever contacted through this table, so it cannot make the server
call anything else (loopback, private ranges, other schemes).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

ADDRESS_RE = re.compile(r"^https://([a-z0-9][a-z0-9-]{0,61}[a-z0-9]?)\.atlassian\.net/?$")
ADDRESS_HINT = "Make sure to enter your address in https://yourinstancename.atlassian.net form"


class InvalidAddress(ValueError):
    pass


class UnknownSite(LookupError):
    pass


def normalize_address(value: str) -> str:
    """Return the canonical `https://name.atlassian.net` form, or raise InvalidAddress."""
    m = ADDRESS_RE.match(value.strip().lower())
    if not m:
        raise InvalidAddress(ADDRESS_HINT)
    return f"https://{m.group(1)}.atlassian.net"


@dataclass(frozen=True)
class SiteDirectory:
    entries: dict[str, str]  # "name.atlassian.net" -> "http://host:port"

    @classmethod
    def from_setting(cls, value: str) -> SiteDirectory:
        entries: dict[str, str] = {}
        for item in filter(None, (p.strip() for p in value.split(","))):
            host, sep, base = item.partition("=")
            if not sep:
                raise ValueError(f"entry {item!r} is not NAME.atlassian.net=URL")
            address = normalize_address(f"https://{host.strip()}")
            parts = urlsplit(base.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"entry {item!r}: the local URL must be http(s)://host[:port]")
            entries[address.removeprefix("https://")] = base.strip().rstrip("/")
        return cls(entries)

    @classmethod
    def load(cls) -> SiteDirectory:
        return cls.from_setting(settings.SITE_DIRECTORY)

    def base_url(self, address: str) -> str:
        """The local base URL of a site's public address; UnknownSite if not listed."""
        try:
            canonical = normalize_address(address)
        except InvalidAddress as e:
            raise UnknownSite(f"{address!r} is not a Jira Cloud address") from e
        try:
            return self.entries[canonical.removeprefix("https://")]
        except KeyError:
            raise UnknownSite(f"{canonical} is not a site this server knows") from None

    def addresses(self) -> list[str]:
        """The public address of every site listed."""
        return [f"https://{host}" for host in self.entries]

    def __contains__(self, address: str) -> bool:
        try:
            self.base_url(address)
        except UnknownSite:
            return False
        return True
