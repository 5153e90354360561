"""JQL against the site's issues: the parsed query (`jira.jql`) as a Django Q and an ordering.

Names are resolved to ids first (a few small queries), so the issue query itself filters on
indexed foreign keys and stays fast with many issues.
"""
from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.utils import timezone

from jira.jql import And, Clause, JqlError, Node, Not, Or, Query, jql_datetime, jql_parse
from jira.models import CustomField, Issue, IssueType, Priority, Profile, Project, Status, StatusCategory

SORTS = {"created": "created", "updated": "updated", "key": ("project__key", "number"), "issuekey": None,
         "priority": "priority__position", "status": "status__name", "summary": "summary", "duedate": "due_date",
         "issuetype": "issue_type__name", "project": "project__key", "id": "pk"}
SORTS["issuekey"] = SORTS["key"]
EQUALITY = ("=", "!=", "in", "not in", "is empty", "is not empty")


@dataclass
class _Context:
    user: User | None
    now: datetime.datetime = field(default_factory=timezone.now)
    custom: dict[str, CustomField] | None = None


def _texts(clause: Clause) -> list[str]:
    return [v.text for v in clause.values]


def _in_ids(clause: Clause, column: str, ids: list[int], empty_allowed: bool = False) -> Q:
    """`column` in/not in the ids; EMPTY handled when the column may be null."""
    op = clause.operator
    if op in ("is empty", "is not empty"):
        if not empty_allowed:
            raise JqlError(f"The field '{clause.field}' is never empty.", clause.position)
        q = Q(**{f"{column}__isnull": True})
        return q if op == "is empty" else ~q
    if op not in ("=", "!=", "in", "not in"):
        raise JqlError(f"The operator '{op}' is not supported by the '{clause.field}' field.", clause.position)
    q = Q(**{f"{column}__in": ids})
    return q if op in ("=", "in") else ~q


def _by_name_or_id(model: Any, clause: Clause, name_field: str = "name") -> list[int]:
    texts = _texts(clause)
    ids = [int(t) for t in texts if t.isdigit()]
    names = Q()
    for t in texts:
        names |= Q(**{f"{name_field}__iexact": t})
    found = list(model.objects.filter(Q(pk__in=ids) | names if texts else Q(pk__in=[])).values_list("pk", flat=True))
    if not found and clause.operator in ("=", "in"):
        raise JqlError(f"The value '{texts[0] if texts else ''}' does not exist for the field '{clause.field}'.",
                       clause.position)
    return found


def _users(clause: Clause, ctx: _Context) -> list[int]:
    ids: list[int] = []
    for v in clause.values:
        if v.function and v.text.lower() == "currentuser":
            if ctx.user is not None and ctx.user.is_authenticated:
                ids.append(ctx.user.pk)
            continue
        profile = Profile.objects.filter(account_id=v.text).values_list("user_id", flat=True).first()
        if profile is not None:
            ids.append(profile)
            continue
        match = (User.objects.filter(Q(username=v.text) | Q(email__iexact=v.text))
                 .values_list("pk", flat=True).first())
        if match is None:
            match = Profile.objects.filter(display_name__iexact=v.text).values_list("user_id", flat=True).first()
        if match is None and clause.operator in ("=", "in"):
            raise JqlError(f"The value '{v.text}' does not exist for the field '{clause.field}'.", clause.position)
        if match is not None:
            ids.append(match)
    return ids


def _dates(clause: Clause, column: str, ctx: _Context) -> Q:
    op = clause.operator
    if op not in ("=", "!=", ">", ">=", "<", "<=", "in", "not in"):
        raise JqlError(f"The operator '{op}' is not supported by the '{clause.field}' field.", clause.position)
    moments = [jql_datetime(v, ctx.now) for v in clause.values]
    lookups = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
    if op in lookups:
        return Q(**{f"{column}__{lookups[op]}": moments[0]})
    q = Q(**{f"{column}__in": moments})
    return q if op in ("=", "in") else ~q


def _keys(clause: Clause) -> Q:
    op = clause.operator
    if op not in ("=", "!=", "in", "not in"):
        raise JqlError(f"The operator '{op}' is not supported by the 'key' field.", clause.position)
    keys = [t.upper() for t in _texts(clause) if not t.isdigit()]
    ids = [int(t) for t in _texts(clause) if t.isdigit()]
    q = Q(key__in=keys) | Q(pk__in=ids)
    return q if op in ("=", "in") else ~q


def _text(clause: Clause, columns: tuple[str, ...]) -> Q:
    if clause.operator not in ("~", "!~"):
        raise JqlError(f"The operator '{clause.operator}' is not supported by the '{clause.field}' field: use ~.",
                       clause.position)
    term = clause.values[0].text.strip().strip("*")
    q = Q()
    for column in columns:
        q |= Q(**{f"{column}__icontains": term})
    return q if clause.operator == "~" else ~q


def _labels(clause: Clause) -> Q:
    op = clause.operator
    if op in ("is empty", "is not empty"):
        q = Q(labels_text="")
        return q if op == "is empty" else ~q
    if op not in ("=", "!=", "in", "not in"):
        raise JqlError(f"The operator '{op}' is not supported by the 'labels' field.", clause.position)
    q = Q()
    for t in _texts(clause):
        q |= Q(labels_text__contains=f" {t} ")
    return q if op in ("=", "in") else ~q


def _custom(clause: Clause, cf: CustomField) -> Q:
    column = f"custom_fields__{cf.field_id}"
    op = clause.operator
    if op in ("is empty", "is not empty"):
        q = Q(**{f"{column}__isnull": True})
        return q if op == "is empty" else ~q
    if op in ("~", "!~"):
        return _text(clause, (column,))
    values: list[Any] = _texts(clause)
    if cf.field_type == CustomField.FieldType.NUMBER:
        try:
            values = [float(v) for v in values]
        except ValueError:
            raise JqlError(f"'{values[0]}' is not a number for the field '{cf.name}'.", clause.position) from None
    if cf.field_type == CustomField.FieldType.SELECT:
        by_fold = {o.casefold(): o for o in cf.options}
        values = [by_fold.get(str(v).casefold(), v) for v in values]
    lookups = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
    if op in lookups:
        return Q(**{f"{column}__{lookups[op]}": values[0]})
    if op not in ("=", "!=", "in", "not in"):
        raise JqlError(f"The operator '{op}' is not supported by the '{cf.name}' field.", clause.position)
    q = Q()
    for v in values:
        q |= Q(**{column: v})
    return q if op in ("=", "in") else ~q & Q(**{f"{column}__isnull": False})


def _custom_field(name: str, ctx: _Context) -> CustomField | None:
    if ctx.custom is None:
        ctx.custom = {}
        for cf in CustomField.objects.all():
            ctx.custom[cf.field_id.lower()] = cf
            ctx.custom[f"cf[{10000 + cf.pk}]"] = cf
            ctx.custom[cf.name.lower()] = cf
    return ctx.custom.get(name.lower())


def _clause(clause: Clause, ctx: _Context) -> Q:
    name = clause.field.lower()
    handlers: dict[str, Callable[[], Q]] = {
        "project": lambda: _in_ids(clause, "project_id", _project_ids(clause)),
        "issuetype": lambda: _in_ids(clause, "issue_type_id", _by_name_or_id(IssueType, clause)),
        "type": lambda: _in_ids(clause, "issue_type_id", _by_name_or_id(IssueType, clause)),
        "status": lambda: _in_ids(clause, "status_id", _by_name_or_id(Status, clause)),
        "statuscategory": lambda: _in_ids(clause, "status_id", _category_status_ids(clause)),
        "priority": lambda: _in_ids(clause, "priority_id", _by_name_or_id(Priority, clause), empty_allowed=True),
        "labels": lambda: _labels(clause),
        "assignee": lambda: _in_ids(clause, "assignee_id", _users(clause, ctx), empty_allowed=True),
        "reporter": lambda: _in_ids(clause, "reporter_id", _users(clause, ctx), empty_allowed=True),
        "created": lambda: _dates(clause, "created", ctx),
        "createddate": lambda: _dates(clause, "created", ctx),
        "updated": lambda: _dates(clause, "updated", ctx),
        "updateddate": lambda: _dates(clause, "updated", ctx),
        "duedate": lambda: _dates(clause, "due_date", ctx),
        "key": lambda: _keys(clause),
        "issuekey": lambda: _keys(clause),
        "issue": lambda: _keys(clause),
        "id": lambda: _keys(clause),
        "text": lambda: _text(clause, ("summary", "description_text")),
        "summary": lambda: _text(clause, ("summary",)),
        "description": lambda: _text(clause, ("description_text",)),
    }
    if name in handlers:
        return handlers[name]()
    cf = _custom_field(name, ctx)
    if cf is not None:
        return _custom(clause, cf)
    raise JqlError(f"Field '{clause.field}' does not exist or you do not have permission to view it.",
                   clause.field_position)


def _project_ids(clause: Clause) -> list[int]:
    texts = _texts(clause)
    ids = [int(t) for t in texts if t.isdigit()]
    names = Q()
    for t in texts:
        names |= Q(key__iexact=t) | Q(name__iexact=t)
    found = list(Project.objects.filter(Q(pk__in=ids) | names).values_list("pk", flat=True)) if texts else []
    if not found and clause.operator in ("=", "in"):
        raise JqlError(f"The value '{texts[0]}' does not exist for the field 'project'.", clause.position)
    return found


def _category_status_ids(clause: Clause) -> list[int]:
    wanted = set()
    for t in _texts(clause):
        for key, label in StatusCategory.choices:
            if t.casefold() in (key.casefold(), str(label).casefold()) or t == str(_CATEGORY_IDS.get(key)):
                wanted.add(key)
    if not wanted and clause.operator in ("=", "in"):
        raise JqlError(f"The value '{_texts(clause)[0]}' does not exist for the field 'statusCategory'.",
                       clause.position)
    return list(Status.objects.filter(category__in=wanted).values_list("pk", flat=True))


_CATEGORY_IDS = {"new": 2, "indeterminate": 4, "done": 3}


def _node(node: Node, ctx: _Context) -> Q:
    if isinstance(node, Clause):
        return _clause(node, ctx)
    if isinstance(node, Not):
        return ~_node(node.part, ctx)
    parts = [_node(part, ctx) for part in node.parts]
    q = parts[0]
    for part in parts[1:]:
        q = q & part if isinstance(node, And) else q | part
    assert isinstance(node, And | Or)
    return q


def _ordering(query: Query, ctx: _Context) -> list[str]:
    order: list[str] = []
    for sort in query.order:
        name = sort.field.lower()
        columns = SORTS.get(name)
        if columns is None:
            cf = _custom_field(name, ctx)
            if cf is None:
                raise JqlError(f"Not able to sort using field '{sort.field}'.")
            columns = f"custom_fields__{cf.field_id}"
        for column in (columns,) if isinstance(columns, str) else columns:
            order.append(("-" if sort.descending else "") + column)
    if not order:
        order = ["-created"]
    order.append("-pk" if order[0].startswith("-") else "pk")  # a stable order for paging
    return order


def jql_search(text: str, *, user: User | None, queryset: QuerySet[Issue] | None = None) -> QuerySet[Issue]:
    """The issues matching the query, ordered as it says (newest first by default). Raises JqlError."""
    query = jql_parse(text)
    ctx = _Context(user=user)
    qs = queryset if queryset is not None else Issue.objects.all()
    if query.where is not None:
        qs = qs.filter(_node(query.where, ctx))
    return qs.order_by(*_ordering(query, ctx))

