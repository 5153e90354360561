"""Where apps above synchronizations add to its pages, without synchronizations importing them.

An app registers from its `AppConfig.ready()`: e.g. issue sync adds the count of issues in
error to the list's rows and a link to its Errors view on the detail page.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from synchronizations.models import Synchronization

DetailContext = Callable[[Synchronization], dict[str, Any]]
# For a page of the list: {synchronization id: [(text, url), ...]}, in one read for the whole page.
RowNotes = Callable[[Sequence[Synchronization]], dict[str, list[tuple[str, str]]]]
_DETAIL_CONTEXT: list[DetailContext] = []
_ROW_NOTES: list[RowNotes] = []


def detail_context_register(provider: DetailContext) -> None:
    if provider not in _DETAIL_CONTEXT:
        _DETAIL_CONTEXT.append(provider)


def detail_context(sync: Synchronization) -> dict[str, Any]:
    """What every registered app adds to a synchronization's detail page."""
    context: dict[str, Any] = {}
    for provider in _DETAIL_CONTEXT:
        context.update(provider(sync))
    return context


def row_notes_register(provider: RowNotes) -> None:
    if provider not in _ROW_NOTES:
        _ROW_NOTES.append(provider)


def row_notes(syncs: Sequence[Synchronization]) -> dict[str, list[tuple[str, str]]]:
    notes: dict[str, list[tuple[str, str]]] = {}
    for provider in _ROW_NOTES:
        for pk, items in provider(syncs).items():
            notes.setdefault(pk, []).extend(items)
    return notes
