"""The conflict rule, as pure functions: last writer wins, field by field.

Every synchronized field carries a clock `[origin time, origin site]`: the time (UTC, fixed
format, so text order is time order) the value was written where it was written, and that
site's address. The larger clock wins; equal times are broken by the site address. Both sites
apply the same rule to the same clocks, so whatever order, delay or duplication the messages
meet, both end with the value of the largest clock (a last-writer-wins register per field).
"""
from __future__ import annotations

import datetime
from typing import Any

Clock = tuple[str, str]
CLOCK_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def clock_at(moment: datetime.datetime, site: str) -> list[str]:
    """A clock for a value written at `moment` on `site` (JSON form: a two-item list)."""
    utc = moment.astimezone(datetime.UTC) if moment.tzinfo else moment
    return [utc.strftime(CLOCK_FORMAT), site]


def as_clock(value: Any) -> Clock | None:
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return (value[0], value[1])
    return None


def wins(incoming: Any, current: Any) -> bool:
    """Whether a value with clock `incoming` replaces one with clock `current` (None: never written)."""
    new, old = as_clock(incoming), as_clock(current)
    if new is None:
        return False
    return old is None or new > old


def merge_states(held: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any]:
    """Merge field states `{field: {"v": value, "c": clock}}`: per field, the larger clock's state."""
    out = dict(held)
    for field, state in incoming.items():
        if field not in out or wins(state.get("c"), out[field].get("c")):
            out[field] = state
    return out
