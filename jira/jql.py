"""JQL: one grammar (lark) for the REST search and for the mapping filter.

    project = ALPHA AND status in ("To Do", "In Progress") AND NOT labels = wontfix ORDER BY created DESC

`jql_parse` gives a small syntax tree; `jql_to_query` turns it into a Django Q and ordering for the
site's issues; `mappings.filters` evaluates the same tree against an issue's values.
"""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

GRAMMAR = r"""
    start: [expr] [order_by]

    ?expr: or_expr
    ?or_expr: and_expr (_OR and_expr)*
    ?and_expr: not_expr (_AND not_expr)*
    ?not_expr: _NOT not_expr -> negation
             | atom
    ?atom: "(" expr ")"
         | clause

    clause: field OPERATOR value            -> compare
          | field _IN value_list            -> in_list
          | field _NOT _IN value_list       -> not_in_list
          | field _IS _EMPTY                -> is_empty
          | field _IS _NOT _EMPTY           -> is_not_empty

    field: WORD | STRING
    value_list: "(" value ("," value)* ")"
    ?value: STRING       -> string
          | WORD         -> word
          | WORD "(" ")" -> function

    order_by: _ORDER _BY sort ("," sort)*
    sort: field [DIRECTION]

    _OR.2: /or\b/i | "||"
    _AND.2: /and\b/i | "&&"
    _NOT.2: /not\b/i
    _IN.2: /in\b/i
    _IS.2: /is\b/i
    _EMPTY.2: /(empty|null)\b/i
    _ORDER.2: /order\b/i
    _BY.2: /by\b/i
    DIRECTION.2: /(asc|desc)\b/i
    OPERATOR: "!=" | "!~" | ">=" | "<=" | "=" | "~" | ">" | "<"
    STRING: /"(?:[^"\\]|\\.)*"/ | /'(?:[^'\\]|\\.)*'/
    WORD: /[A-Za-z0-9_.\-+@:\/\[\]]+/

    %import common.WS
    %ignore WS
"""


class JqlError(ValueError):
    """A query that cannot be parsed or run; `position` is 1-based when known."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


@dataclass(frozen=True)
class Value:
    text: str
    quoted: bool = False
    function: bool = False


@dataclass(frozen=True)
class Clause:
    field: str
    operator: str  # =, !=, ~, !~, >, >=, <, <=, in, not in, is empty, is not empty
    values: tuple[Value, ...]
    position: int  # of the operator, 1-based
    field_position: int


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    part: Node


Node = Clause | And | Or | Not


@dataclass(frozen=True)
class Sort:
    field: str
    descending: bool


@dataclass(frozen=True)
class Query:
    where: Node | None
    order: tuple[Sort, ...]


def _unquote(token: str) -> str:
    return re.sub(r"\\(.)", r"\1", token[1:-1])


def _field(tree_or_token: Any) -> tuple[str, int]:
    token: Token = tree_or_token.children[0]
    text = _unquote(token) if token.type == "STRING" else str(token)
    return text, token.column or 0


@v_args(inline=True)
class _Build(Transformer[Token, Any]):
    def string(self, token: Token) -> Value:
        return Value(_unquote(token), quoted=True)

    def word(self, token: Token) -> Value:
        return Value(str(token))

    def function(self, token: Token) -> Value:
        return Value(str(token), function=True)

    def value_list(self, *values: Value) -> tuple[Value, ...]:
        return values

    def compare(self, field: Any, op: Token, value: Value) -> Clause:
        name, col = _field(field)
        return Clause(name, str(op), (value,), op.column or 0, col)

    def in_list(self, field: Any, values: tuple[Value, ...]) -> Clause:
        name, col = _field(field)
        return Clause(name, "in", values, col + len(name) + 1, col)

    def not_in_list(self, field: Any, values: tuple[Value, ...]) -> Clause:
        name, col = _field(field)
        return Clause(name, "not in", values, col + len(name) + 1, col)

    def is_empty(self, field: Any) -> Clause:
        name, col = _field(field)
        return Clause(name, "is empty", (), col + len(name) + 1, col)

    def is_not_empty(self, field: Any) -> Clause:
        name, col = _field(field)
        return Clause(name, "is not empty", (), col + len(name) + 1, col)

    def negation(self, part: Node) -> Not:
        return Not(part)

    def and_expr(self, *parts: Node) -> And:
        return And(parts)

    def or_expr(self, *parts: Node) -> Or:
        return Or(parts)

    def sort(self, field: Any, direction: Token | None) -> Sort:
        return Sort(_field(field)[0], bool(direction and direction.lower() == "desc"))

    def order_by(self, *sorts: Sort) -> tuple[Sort, ...]:
        return sorts

    def start(self, where: Node | None, order: tuple[Sort, ...] | None) -> Query:
        return Query(where, order or ())


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", maybe_placeholders=True)


OPERATOR_TERMINALS = {"OPERATOR", "_IN", "_NOT", "_IS"}


def jql_parse(text: str) -> Query:
    """Parse a query; raise JqlError with a message a person can act on."""
    text = text or ""
    try:
        tree = _parser().parse(text)
    except UnexpectedEOF:
        raise JqlError("The query ends too early.", len(text) + 1) from None
    except UnexpectedCharacters as e:
        raise JqlError(f"Unexpected character at position {e.column}: {text[e.pos_in_stream or 0]!r}", e.column) \
            from None
    except UnexpectedToken as e:
        token = e.token
        if token.type == "$END":
            raise JqlError("The query ends too early.", len(text) + 1) from None
        expected = set(e.expected)
        if expected & OPERATOR_TERMINALS and not expected & {"WORD", "STRING"}:
            raise JqlError(f"Unknown operator {str(token)!r}: use =, !=, in or not in.", token.column) from None
        if expected == {"LPAR"}:
            raise JqlError("Expected a list in parentheses after 'in'.", token.column) from None
        raise JqlError(f"Unexpected {str(token)!r} at position {token.column}: a value must be quoted when it has "
                       "spaces, and clauses are joined by AND or OR.", token.column) from None
    except (UnexpectedInput, LarkError) as e:  # pragma: no cover - any other parse failure
        raise JqlError(f"The query is not valid: {e}") from None
    result: Query = _Build().transform(tree)
    return result


# --- Relative dates: "-7d", "2026-11-01", "2026-11-01 10:30", now(), startOfDay() ---------------------------

RELATIVE = re.compile(r"^([+-]?)(\d+)([wdhm])$")
UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


def jql_datetime(value: Value, now: datetime.datetime) -> datetime.datetime:
    text = value.text.strip()
    if value.function:
        name = text.lower()
        if name == "now":
            return now
        if name == "startofday":
            return now.replace(hour=0, minute=0, second=0, microsecond=0)
        raise JqlError(f"Unknown function {text}().")
    m = RELATIVE.match(text)
    if m:
        delta = datetime.timedelta(**{UNITS[m.group(3)]: int(m.group(2))})
        return now - delta if m.group(1) == "-" else now + delta
    for fmt in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.UTC)
        except ValueError:
            continue
    raise JqlError(f"Date value '{text}' for field is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', "
                   "'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.")
