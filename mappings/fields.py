"""The fields a site offers for mapping, and which field types may map to which."""
from __future__ import annotations

from typing import Any

from jira.models import CustomField

PRIORITIES = ["Highest", "High", "Medium", "Low", "Lowest"]
STATUSES = ["To Do", "In Progress", "Done"]

# Jira's system fields: (id, name, kind, options)
SYSTEM_FIELDS: list[tuple[str, str, str, list[str]]] = [
    ("summary", "Summary", "text", []),
    ("description", "Description", "text", []),
    ("priority", "Priority", "option", PRIORITIES),
    ("labels", "Labels", "labels", []),
    ("status", "Status", "status", STATUSES),
    ("assignee", "Assignee", "user", []),
    ("duedate", "Due date", "date", []),
]
CUSTOM_KINDS = {"text": "text", "select": "option", "number": "number", "date": "date", "user": "user",
                "labels": "labels"}

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


def site_fields() -> list[dict[str, Any]]:
    """This site's mappable fields, in the wire form partners receive."""
    fields = [{"id": fid, "name": name, "kind": kind, "options": options}
              for fid, name, kind, options in SYSTEM_FIELDS]
    fields += [{"id": f.field_id, "name": f.name, "kind": CUSTOM_KINDS[f.field_type], "options": list(f.options)}
               for f in CustomField.objects.all()]
    return fields


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
