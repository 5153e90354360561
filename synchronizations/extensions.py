"""Where apps above synchronizations add to its pages, without synchronizations importing them.

An app registers from its `AppConfig.ready()`; e.g. mappings adds the detail page's mapping rows,
issue sync the count of issues in error to the list's rows.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from synchronizations.models import Synchronization

DetailContext = Callable[[Synchronization], dict[str, Any]]
_DETAIL_CONTEXT: list[DetailContext] = []


def detail_context_register(provider: DetailContext) -> None:
    if provider not in _DETAIL_CONTEXT:
        _DETAIL_CONTEXT.append(provider)


def detail_context(sync: Synchronization) -> dict[str, Any]:
    """What every registered app adds to a synchronization's detail page."""
    context: dict[str, Any] = {}
    for provider in _DETAIL_CONTEXT:
        context.update(provider(sync))
    return context


# What a scope change may switch off: each provider names the enabled things it owns, by id
# (mappings names its enabled mappings), so the scope page can say what saving will disable.
Dependents = Callable[[Synchronization], dict[Any, str]]
_SCOPE_DEPENDENTS: list[Dependents] = []


def scope_dependents_register(provider: Dependents) -> None:
    if provider not in _SCOPE_DEPENDENTS:
        _SCOPE_DEPENDENTS.append(provider)


def scope_dependents(sync: Synchronization) -> dict[Any, str]:
    """Every registered app's enabled dependents of this synchronization, by id."""
    found: dict[Any, str] = {}
    for provider in _SCOPE_DEPENDENTS:
        found.update(provider(sync))
    return found


# For a page of the list: {synchronization id: [(text, url), ...]}, in one read for the whole page.
RowNotes = Callable[[Sequence[Synchronization]], dict[str, list[tuple[str, str]]]]
_ROW_NOTES: list[RowNotes] = []


def row_notes_register(provider: RowNotes) -> None:
    if provider not in _ROW_NOTES:
        _ROW_NOTES.append(provider)


def row_notes(syncs: Sequence[Synchronization]) -> dict[str, list[tuple[str, str]]]:
    """What every registered app adds to the list's rows (e.g. "2 issues in error"), by synchronization id."""
    notes: dict[str, list[tuple[str, str]]] = {}
    for provider in _ROW_NOTES:
        for pk, items in provider(syncs).items():
            notes.setdefault(pk, []).extend(items)
    return notes
