"""A small JQL-like filter: which issues of a mapped project sync.

    issuetype = Bug AND labels in (customer, urgent) OR status != Done

Fields: issuetype, labels, status, priority. Operators: =, !=, in, not in.
AND binds tighter than OR; parentheses group.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

FIELDS = ("issuetype", "labels", "status", "priority")
TOKEN = re.compile(r'\s*(?:(\()|(\))|(,)|(!=|=)|("(?:[^"\\]|\\.)*")|([A-Za-z0-9_.\-]+))')

Issue = dict[str, Any]
Predicate = Callable[[Issue], bool]


class FilterError(ValueError):
    pass


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError(f"Unexpected character at position {pos + 1}: {text[pos]!r}")
        tok = next(g for g in m.groups() if g is not None)
        out.append(tok[1:-1].replace('\\"', '"') if tok.startswith('"') else tok)
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens, self.i = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise FilterError("The filter ends too early.")
        self.i += 1
        return tok

    def expr(self) -> Predicate:
        left = self.conj()
        while (self.peek() or "").upper() == "OR":
            self.take()
            right = self.conj()
            left = (lambda a, b: lambda issue: a(issue) or b(issue))(left, right)
        return left

    def conj(self) -> Predicate:
        left = self.term()
        while (self.peek() or "").upper() == "AND":
            self.take()
            right = self.term()
            left = (lambda a, b: lambda issue: a(issue) and b(issue))(left, right)
        return left

    def term(self) -> Predicate:
        if self.peek() == "(":
            self.take()
            inner = self.expr()
            if self.take() != ")":
                raise FilterError("A parenthesis is not closed.")
            return inner
        field = self.take().lower()
        if field not in FIELDS:
            raise FilterError(f"Unknown field {field!r}: use one of {', '.join(FIELDS)}.")
        op = self.take().lower()
        if op == "not":
            if self.take().lower() != "in":
                raise FilterError("Expected 'in' after 'not'.")
            op = "not in"
        if op in ("=", "!="):
            values = [self.value()]
        elif op in ("in", "not in"):
            values = self.values()
        else:
            raise FilterError(f"Unknown operator {op!r}: use =, !=, in or not in.")
        negate = op in ("!=", "not in")
        wanted = {v.casefold() for v in values}

        def predicate(issue: Issue) -> bool:
            have = issue.get(field)
            have_set = {str(v).casefold() for v in (have if isinstance(have, list) else [have]) if v is not None}
            return bool(have_set & wanted) != negate

        return predicate

    def value(self) -> str:
        tok = self.take()
        if tok in ("(", ")", ",", "=", "!="):
            raise FilterError(f"Expected a value, found {tok!r}.")
        return tok

    def values(self) -> list[str]:
        if self.take() != "(":
            raise FilterError("Expected a list in parentheses after 'in'.")
        values = [self.value()]
        while self.peek() == ",":
            self.take()
            values.append(self.value())
        if self.take() != ")":
            raise FilterError("A list is not closed.")
        return values


def filter_compile(text: str) -> Predicate:
    """Compile a filter; an empty filter lets every issue through. Raises FilterError."""
    if not text.strip():
        return lambda issue: True
    parser = _Parser(_tokens(text))
    predicate = parser.expr()
    if parser.peek() is not None:
        raise FilterError(f"Unexpected {parser.peek()!r} after the end of the filter.")
    return predicate
