"""The compatibility table, value mapping and the filter language."""
from __future__ import annotations

import pytest

from mappings.fields import COMPATIBLE, SYSTEM_FIELDS, compatibility_error, value_map
from mappings.filters import FilterError, filter_compile


def _field(kind: str, name: str = "F") -> dict[str, object]:
    return {"id": name.lower(), "name": name, "kind": kind, "options": []}


@pytest.mark.parametrize("local", sorted(COMPATIBLE))
@pytest.mark.parametrize("partner", sorted(COMPATIBLE))
def test_the_compatibility_table_decides_every_pair(local: str, partner: str) -> None:
    error = compatibility_error(_field(local, "Mine"), _field(partner, "Theirs"))
    if partner in COMPATIBLE[local]:
        assert error is None
    else:
        assert error is not None and error.startswith("Mine (") and "cannot be mapped to Theirs (" in error


def test_select_maps_to_priority_but_text_does_not() -> None:
    priority = {"id": "priority", "name": "Priority", "kind": "option", "options": []}
    assert compatibility_error({"id": "cf", "name": "Severity", "kind": "option", "options": []}, priority) is None
    assert compatibility_error({"id": "summary", "name": "Summary", "kind": "text", "options": []}, priority) == (
        "Summary (text) cannot be mapped to Priority (select list): only text fields map to text fields."
    )


def test_every_system_field_has_a_kind_in_the_table() -> None:
    assert {kind for _, _, kind, _ in SYSTEM_FIELDS} <= set(COMPATIBLE)


def test_equal_names_match_by_default_and_exceptions_win() -> None:
    options = ["Highest", "High", "Medium", "Low", "Lowest"]
    assert value_map("high", exceptions={}, target_options=options) == "High"
    assert value_map("Blocker", exceptions={"Blocker": "Highest"}, target_options=options) == "Highest"
    assert value_map("High", exceptions={"High": "Medium"}, target_options=options) == "Medium"
    assert value_map("Blocker", exceptions={}, target_options=options) is None


@pytest.mark.parametrize(
    ("text", "issue", "expected"),
    [
        ("", {"issuetype": "Bug"}, True),
        ("issuetype = Bug", {"issuetype": "Bug"}, True),
        ("issuetype = bug", {"issuetype": "Bug"}, True),
        ("issuetype != Bug", {"issuetype": "Bug"}, False),
        ("labels = mobile", {"labels": ["web", "mobile"]}, True),
        ("labels in (ios, android)", {"labels": ["web"]}, False),
        ("labels not in (ios, android)", {"labels": ["web"]}, True),
        ('status = "In Progress"', {"status": "In Progress"}, True),
        ("issuetype = Bug AND status != Done", {"issuetype": "Bug", "status": "Done"}, False),
        ("issuetype = Story OR issuetype = Bug AND priority = High", {"issuetype": "Story", "priority": "Low"}, True),
        ("(issuetype = Story OR issuetype = Bug) AND priority = High", {"issuetype": "Story", "priority": "Low"},
         False),
    ],
)
def test_the_filter_selects_issues(text: str, issue: dict[str, object], expected: bool) -> None:
    assert filter_compile(text)(issue) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("reporter = me", "Unknown field 'reporter'"),
        ("issuetype ~ Bug", "Unexpected character"),
        ("issuetype = ", "ends too early"),
        ("issuetype in Bug", "Expected a list"),
        ("(issuetype = Bug", "ends too early"),
        ("issuetype = Bug Bug", "Unexpected 'Bug'"),
        ("issuetype like Bug", "Unknown operator"),
    ],
)
def test_a_bad_filter_is_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        filter_compile(text)
