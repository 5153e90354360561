"""This site's mappable fields, as a scope announces them to the partner (its wire form)."""
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


def system_fields() -> list[dict[str, Any]]:
    """Jira's system fields, in the wire form partners receive."""
    return [{"id": fid, "name": name, "kind": kind, "options": options} for fid, name, kind, options in SYSTEM_FIELDS]


def custom_fields() -> list[dict[str, Any]]:
    """This site's custom fields, in the wire form partners receive."""
    return [{"id": f.field_id, "name": f.name, "kind": CUSTOM_KINDS[f.field_type], "options": list(f.options)}
            for f in CustomField.objects.all()]


def site_fields() -> list[dict[str, Any]]:
    """This site's mappable fields, in the wire form partners receive."""
    return system_fields() + custom_fields()
