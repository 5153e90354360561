"""A refused stale save says what the partner changed since the editor opened."""
from __future__ import annotations

from mappings.forms import mapping_changes, mapping_snapshot
from mappings.services import MappingInput


def _mapping(**changes: object) -> MappingInput:
    data = {"name": "Bugs", "local_project": "ALPHA", "partner_project": "BETA",
            "issue_types": [("Bug", "Bug")], "fields": [("summary", "summary", "both")], **changes}
    return MappingInput(**data)  # type: ignore[arg-type]


def test_it_lists_only_what_differs_in_the_editors_words() -> None:
    opened = mapping_snapshot(_mapping())
    now = _mapping(name="Bugs, renamed", fields=[("summary", "summary", "to_partner")], enabled=False)
    assert mapping_changes(opened, now) == ["Mapping name: now “Bugs, renamed”", "Fields", "Enabled: now no"]


def test_it_lists_nothing_when_nothing_differs_or_the_snapshot_is_unreadable() -> None:
    assert mapping_changes(mapping_snapshot(_mapping()), _mapping()) == []
    assert mapping_changes("not json", _mapping(name="Other")) == []
    assert mapping_changes("[1]", _mapping(name="Other")) == []
