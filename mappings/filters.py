"""A small JQL filter: which issues of a mapped project sync.

    issuetype = Bug AND labels in (customer, urgent) OR status != Done

Fields: issuetype, labels, status, priority. Operators: =, !=, in, not in; AND, OR, NOT and
parentheses. It is parsed by the site's JQL grammar (`jira.jql`), so a filter reads as JQL does.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from jira.jql import And, Clause, JqlError, Node, Not, Or, jql_parse

FIELDS = ("issuetype", "labels", "status", "priority")
OPERATORS = ("=", "!=", "in", "not in")

Issue = dict[str, Any]
Predicate = Callable[[Issue], bool]


class FilterError(ValueError):
    pass


def _clause(clause: Clause) -> Predicate:
    field = clause.field.lower()
    if field not in FIELDS:
        raise FilterError(f"Unknown field {clause.field.lower()!r}: use one of {', '.join(FIELDS)}.")
    if clause.operator not in OPERATORS:
        if clause.operator[0] in "!~<>=":  # a JQL operator the filter does not take
            raise FilterError(f"Unexpected character at position {clause.position}: {clause.operator!r}")
        raise FilterError(f"Unknown operator {clause.operator!r}: use =, !=, in or not in.")
    negate = clause.operator in ("!=", "not in")
    wanted = {v.text.casefold() for v in clause.values}

    def predicate(issue: Issue) -> bool:
        have = issue.get(field)
        have_set = {str(v).casefold() for v in (have if isinstance(have, list) else [have]) if v is not None}
        return bool(have_set & wanted) != negate

    return predicate


def _node(node: Node) -> Predicate:
    if isinstance(node, Clause):
        return _clause(node)
    if isinstance(node, Not):
        inner = _node(node.part)
        return lambda issue: not inner(issue)
    parts = [_node(part) for part in node.parts]
    if isinstance(node, And):
        return lambda issue: all(p(issue) for p in parts)
    assert isinstance(node, Or)
    return lambda issue: any(p(issue) for p in parts)


@functools.lru_cache(maxsize=512)
def filter_compile(text: str) -> Predicate:
    """Compile a filter; an empty filter lets every issue through. Raises FilterError.

    Kept per process by its text (a predicate has no state): every push and every apply of a mapped issue
    asks for its mapping's filter, and parsing one took 0.2 to 0.5 ms.
    """
    if not text.strip():
        return lambda issue: True
    try:
        query = jql_parse(text)
    except JqlError as e:
        raise FilterError(str(e).replace("The query", "The filter")) from None
    if query.order:
        raise FilterError("A filter chooses issues; it has no ORDER BY.")
    if query.where is None:
        return lambda issue: True
    return _node(query.where)
