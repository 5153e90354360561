"""How the pages say things: delivery in plain words, the same on the list and the detail page.

Fed only with plain values (a message's state, attempts, next try, last error and the partner), so
whatever read produces them (one synchronization's messages, or a page's aggregate) can call it.
"""
from __future__ import annotations

import math
from datetime import datetime

from django.utils import timezone
from django.utils.text import Truncator

# The session key under which an action refused on one mapping leaves its reason for the detail page,
# which shows it next to that mapping's control: {mapping id: reason}.
MAPPING_REFUSALS = "mapping_refusals"


def site_host(address: str) -> str:
    """`https://beta.atlassian.net` -> `beta.atlassian.net`: how an admin names a site."""
    return address.removeprefix("https://").removeprefix("http://").rstrip("/")


def _in(seconds: float) -> str:
    seconds = max(0, math.ceil(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = round(minutes / 60)
    return f"{hours} h"


def delivery_label(*, state: str, attempts: int = 0, next_attempt_at: datetime | None = None,
                   last_error: str = "", partner: str = "", now: datetime | None = None) -> str:
    """The delivery of a synchronization's oldest undelivered message in plain words; "" once
    everything arrived.

    - never tried yet: "Queued for beta.atlassian.net"
    - tried and waiting: "Waiting for beta.atlassian.net: attempt 4, next try in 20 s"
    - given up: "Not delivered to beta.atlassian.net: HTTP 400 ..." (the admin can retry)
    """
    host = site_host(partner) or "the partner"
    if state == "failed":
        reason = f": {Truncator(last_error).chars(60)}" if last_error else ""
        return f"Not delivered to {host}{reason}"
    if state not in ("pending", "delivering", "sending"):
        return ""
    if not attempts:
        return f"Queued for {host}"
    now = now or timezone.now()
    attempt = attempts + 1
    if next_attempt_at is None or next_attempt_at <= now:
        return f"Waiting for {host}: attempt {attempt}, trying now"
    return f"Waiting for {host}: attempt {attempt}, next try in {_in((next_attempt_at - now).total_seconds())}"


def told_when_reachable(partner: str) -> str:
    """What a success flag adds when the action sends a message: it is queued, not yet delivered
    (the Delivery line says when it has not arrived)."""
    return f"{site_host(partner) or 'The partner'} is told as soon as it can be reached."
