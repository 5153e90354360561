"""The fields a site offers for mapping, and which field types may map to which."""
from __future__ import annotations

from typing import Any

from synchronizations.fields import (  # noqa: F401 - the mapping pages read them from here too
    CUSTOM_KINDS,
    PRIORITIES,
    STATUSES,
    SYSTEM_FIELDS,
    custom_fields,
    site_fields,
    system_fields,
)

# Which kinds may map to which: a value of the left kind can be written into the right kind.
COMPATIBLE: dict[str, set[str]] = {
    "text": {"text"},
    "option": {"option"},
    "status": {"status"},
    "labels": {"labels"},
    "user": {"user"},
    "date": {"date"},
    "number": {"number"},
}
KIND_LABELS = {"text": "text", "option": "select list", "status": "status", "labels": "labels",
               "user": "user", "date": "date", "number": "number"}
OPTION_KINDS = {"option", "status"}


def compatibility_error(local: dict[str, Any], partner: dict[str, Any]) -> str | None:
    """None when the pair may be mapped, else a sentence that says why not."""
    if partner["kind"] in COMPATIBLE.get(local["kind"], set()):
        return None
    return (f"{local['name']} ({KIND_LABELS[local['kind']]}) cannot be mapped to {partner['name']} "
            f"({KIND_LABELS[partner['kind']]}): only {KIND_LABELS[local['kind']]} fields map to "
            f"{KIND_LABELS[local['kind']]} fields.")


def value_map(value: str, *, exceptions: dict[str, str], target_options: list[str]) -> str | None:
    """Translate an option value: an exception first, else the target option with the same name."""
    if value in exceptions:
        return exceptions[value]
    by_name = {o.casefold(): o for o in target_options}
    return by_name.get(value.casefold())
