"""A hot ORM query built into SQL once per process, then run again with new values.

Django builds a query's SQL anew on every run, and for the few statements an edit, a push and an
apply each send, that costs more than the database's answer: the issue read with its six related rows
takes the ORM about 0.8 ms to build and PostgreSQL 0.2 ms to answer (docs/benchmarks.md). A
`Prepared` query is written with the ORM as usual, with a `Param` where each value goes; its first run
on a database builds the SQL and remembers how the ORM turns rows into objects, and every later run
only binds the values, runs the statement and builds the objects the same way, select_related included.

    ISSUE = Prepared(lambda: Issue.objects.select_related("project").filter(pk=Param("pk", Issue._meta.pk)))
    issue = ISSUE.first(pk=7)

For the queries that run on every change: anything else is an ordinary queryset. The query must read
rows of its model (no values(), no prefetch_related) and its shape must not depend on the values.
"""
from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Field, Model, QuerySet
from django.db.models.expressions import Expression
from django.db.models.query import get_related_populators
from django.db.models.sql.compiler import SQLCompiler
from django.db.transaction import TransactionManagementError

M = TypeVar("M", bound=Model)


class Param(Expression):
    """Where a value goes in a `Prepared` query; `field` is the model field it is compared with (it
    converts the value for the database, as the ORM would)."""

    def __init__(self, name: str, field: Field[Any, Any]) -> None:
        super().__init__(output_field=field)
        self.name = name

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        return "%s", (self,)


@dataclass(frozen=True)
class _Built:
    sql: str
    params: list[Any]  # the values written in the query, and a Param where a value is bound per run
    compiler: SQLCompiler  # what the ORM set up to read the rows: columns, converters, related objects
    converters: dict[int, Any]
    init_list: list[str]
    start: int
    end: int
    populators: list[Any]  # each sets one select_related object on the row's object (it keeps no state)
    locks: bool


class Prepared(Generic[M]):
    """An ORM query (`build()` returns it, with `Param`s for its values) whose SQL is built once per
    database and process."""

    def __init__(self, build: Callable[[], QuerySet[M]]) -> None:
        self._build = build
        self._built: dict[tuple[str, bool], _Built] = {}
        self._lock = threading.Lock()

    def all(self, using: str = DEFAULT_DB_ALIAS, **values: Any) -> list[M]:
        return self._run(self._ready(using, first=False), using, values)

    def first(self, using: str = DEFAULT_DB_ALIAS, **values: Any) -> M | None:
        """As QuerySet.first(): the first by the query's order, else by primary key."""
        found = self._run(self._ready(using, first=True), using, values)
        return found[0] if found else None

    def _ready(self, using: str, *, first: bool) -> _Built:
        built = self._built.get((using, first))
        if built is None:
            with self._lock:
                built = self._built.get((using, first))
                if built is None:
                    built = self._built[(using, first)] = _build(self._build(), using, first=first)
        return built

    def _run(self, built: _Built, using: str, values: dict[str, Any]) -> list[M]:
        connection = connections[using]
        if built.locks and connection.get_autocommit():
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        params = [_bound(p, values, connection) if isinstance(p, Param) else p for p in built.params]
        with connection.cursor() as cursor:
            cursor.execute(built.sql, params)
            rows: Any = cursor.fetchall()
        compiler = built.compiler
        if compiler.has_extra_select:  # columns read only to order by
            rows = [row[: compiler.col_count] for row in rows]
        if built.converters:
            rows = compiler.apply_converters(rows, built.converters)
        # What Django's ModelIterable does with each row (django/db/models/query.py).
        assert compiler.klass_info is not None
        model: type[M] = compiler.klass_info["model"]
        found = []
        for row in rows:
            obj = model.from_db(using, built.init_list, row[built.start:built.end])
            for populator in built.populators:
                populator.populate(row, obj)
            for name, position in (compiler.annotation_col_map or {}).items():
                setattr(obj, name, row[position])
            found.append(obj)
        return found


def _bound(param: Param, values: dict[str, Any], connection: Any) -> Any:
    return param.output_field.get_db_prep_value(values[param.name], connection, prepared=False)


def _build(queryset: QuerySet[M], using: str, *, first: bool) -> _Built:
    if first:
        queryset = (queryset if queryset.ordered else queryset.order_by("pk"))[:1]
    assert not getattr(queryset, "_prefetch_related_lookups", ()), "a Prepared query reads rows of its model only"
    compiler = queryset.query.get_compiler(using=using)
    sql, params = compiler.as_sql()  # a locking query: inside the caller's transaction, as the ORM requires
    klass_info = compiler.klass_info
    assert klass_info is not None and compiler.select is not None
    fields = [s[0] for s in compiler.select[: compiler.col_count]]
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    return _Built(
        sql=sql, params=list(params), compiler=compiler, converters=compiler.get_converters(fields),
        init_list=[f[0].target.attname for f in compiler.select[start:end]], start=start, end=end,
        populators=get_related_populators(klass_info, compiler.select, using),  # type: ignore[call-arg]  # 5.2's
        locks=bool(queryset.query.select_for_update) and connections[using].features.has_select_for_update,
    )


class PreparedSave:
    """A model's saves with their UPDATE and INSERT statements written once per process, not built per save.

    Mixed into a model (`class Issue(PreparedSave, models.Model)`), it changes only how `save()` and
    `create()` reach the database: Django still runs the model's own `save()`, its signals, each field's
    `pre_save` (auto_now) and `get_db_prep_save`, and decides between UPDATE and INSERT as always. The
    statement for a table and a set of columns is written once; each save binds its values. A save the
    statement cannot say as the ORM would (a value that is an expression, a field with a placeholder of
    its own, a filtering base manager, `select_on_save`, a raw save) goes through the ORM unchanged.
    """

    _meta: Any

    # Django 5.2 calls these two positionally (Model._save_table); any other call goes to the ORM as it is.
    def _do_update(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs or len(args) != 6:
            return super()._do_update(*args, **kwargs)  # type: ignore[misc]
        base_qs, using, pk_val, values, _update_fields, _forced = args
        if (not values or self._meta.select_on_save or base_qs.query.where
                or any(_expression(value) or _placeholder(field) for field, _, value in values)):
            return super()._do_update(*args)  # type: ignore[misc]
        connection: Any = connections[using]
        fields = tuple(field for field, _, _ in values)
        sql = _update_sql(self._meta, fields, using)
        params = [field.get_db_prep_save(value, connection=connection) for field, _, value in values]
        params.append(self._meta.pk.get_db_prep_value(pk_val, connection, prepared=False))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return bool(cursor.rowcount > 0)

    def _do_insert(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs or len(args) != 5:
            return super()._do_insert(*args, **kwargs)  # type: ignore[misc]
        _manager, using, fields, returning_fields, raw = args
        connection: Any = connections[using]
        if (raw or not fields or any(_placeholder(f) for f in fields)
                or (returning_fields and not connection.features.can_return_columns_from_insert)):
            return super()._do_insert(*args)  # type: ignore[misc]
        values = [f.pre_save(self, True) for f in fields]  # as the insert compiler does (auto_now_add)
        if any(_expression(v) for v in values):  # (the compiler calls pre_save again: the same value)
            return super()._do_insert(*args)  # type: ignore[misc]
        sql, returning_params, converters = _insert_sql(self._meta, tuple(fields), tuple(returning_fields or ()), using)
        params = [f.get_db_prep_save(v, connection=connection) for f, v in zip(fields, values, strict=True)]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if not returning_fields:
                return []
            row = list(connection.ops.fetch_returned_insert_columns(cursor, returning_params))
        for position, (expression, field_converters) in converters.items():
            for converter in field_converters:
                row[position] = converter(row[position], expression, connection)
        return [tuple(row)]


def _expression(value: Any) -> bool:
    return hasattr(value, "resolve_expression") or hasattr(value, "prepare_database_save")


def _placeholder(field: Any) -> bool:
    return hasattr(field, "get_placeholder")


# Each statement is written once per model, set of columns and database.
@functools.cache
def _update_sql(meta: Any, fields: tuple[Any, ...], using: str) -> str:
    qn = connections[using].ops.quote_name
    table = qn(meta.db_table)
    assignments = ", ".join(f"{qn(f.column)} = %s" for f in fields)
    return f"UPDATE {table} SET {assignments} WHERE {table}.{qn(meta.pk.column)} = %s"


@functools.cache
def _insert_sql(meta: Any, fields: tuple[Any, ...], returning: tuple[Any, ...], using: str
                ) -> tuple[str, Any, dict[int, tuple[Any, list[Any]]]]:
    connection: Any = connections[using]
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    sql = f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
    returning_params: Any = ()
    if returning:
        returning_sql, returning_params = connection.ops.return_insert_columns(list(returning))
        sql = f"{sql} {returning_sql}"
    converters = {}  # what the insert compiler applies to the returned columns
    for position, field in enumerate(returning):
        expression = field.get_col(meta.db_table)
        found = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
        if found:
            converters[position] = (expression, found)
    return sql, returning_params, converters
