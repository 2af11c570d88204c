"""PostgreSQL statement texts built from models, for :class:`~.postgresql.PostgresRunStore`.

The values are prepared by Django's fields, as its compilers do; the statement texts are built
once per shape (compiling them per write cost more than sending them). Rows to insert go as one
JSON parameter (``INSERT ... SELECT ... FROM jsonb_to_recordset(...)``): the statement text does
not depend on how many rows there are, so it stays prepared, and it keeps few parameters (psycopg
parses a statement of more than 50 again on every execution); ``json.dumps`` writes the rows
faster than psycopg dumps an array per column (a chain hop's statement 1.3 -> 0.7 ms).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar, cast

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import AutoField, DateTimeField, Field, JSONField, Model


def insert_sql(model: type[Model], objs: Sequence[Model], *, returning: bool) -> tuple[str, tuple[Any, ...]]:
    """Django's insert without its compiler: the same ``pre_save``/``get_db_prep_save`` per value,
    and the statement text cached per shape (building it was a tenth of a hop)."""
    opts = model._meta
    fields = [f for f in opts.concrete_fields if not f.generated]
    if any(obj.pk is None for obj in objs):
        fields = [f for f in fields if not isinstance(f, AutoField)]
    connection = connections[DEFAULT_DB_ALIAS]
    params = [db_value(f, f.pre_save(obj, True), connection) for obj in objs for f in fields]
    sql = values_sql(model, tuple(f.attname for f in fields), len(objs))
    if returning:
        sql += f" RETURNING {connection.ops.quote_name(str(opts.pk.column))}{RETURNING_MARK}"
    return sql, tuple(params)


def insert_statement(model: type[Model], objs: Sequence[Model]) -> tuple[str, tuple[Any, ...]]:
    """``INSERT ... VALUES`` of ``objs`` and its parameters (PostgreSQL), for a caller that
    completes the statement (an ``ON CONFLICT`` clause, say)."""
    return insert_sql(model, objs, returning=False)


#: ends the text of an insert whose keys are read back (an SQL comment)
RETURNING_MARK = " /* keys */"


@lru_cache(maxsize=256)
def values_sql(model: type[Model], columns: tuple[str, ...], count: int) -> str:
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    names = ", ".join(quote(str(model_field(model, c).column)) for c in columns)
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    return f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES " + ", ".join([row] * count)


@lru_cache(maxsize=64)
def recordset_sql(model: type[Model], columns: tuple[str, ...]) -> str:
    """``INSERT ... SELECT ... FROM jsonb_to_recordset(<the rows as one JSON array>)`` (PostgreSQL)."""
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    fields = [model_field(model, c) for c in columns]
    names = ", ".join(quote(str(f.column)) for f in fields)
    types = ", ".join(f"{quote(str(f.column))} {f.db_type(connection)}" for f in fields)
    return (f"INSERT INTO {quote(model._meta.db_table)} ({names}) "
            f"SELECT {names} FROM jsonb_to_recordset(%s::jsonb) AS r({types})")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def rows_json(model: type[Model], columns: Sequence[str], rows: Any) -> str:
    """Rows (values by ``columns``) as the JSON array :func:`recordset_sql` reads."""
    names = [str(model_field(model, c).column) for c in columns]
    return json.dumps([dict(zip(names, row, strict=True)) for row in rows], default=_json_default,
                      separators=(",", ":"))


def json_ready(field: Any, value: Any, connection: Any) -> Any:
    """A model value as :func:`rows_json` takes it: JSON fields' values as they are (they are
    JSON already), the others as the database takes them (datetimes become ISO text there)."""
    if value is None or isinstance(field, JSONField) or isinstance(value, (str, int, float, datetime)):
        return value  # plain values need no preparation
    return field.get_db_prep_save(value, connection)


@lru_cache(maxsize=256)
def _update_sql(model: type[Model], columns: tuple[str, ...], where: str) -> str:
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    assignments = ", ".join(f"{quote(str(model_field(model, c).column))} = %s" for c in columns)
    return f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {where}"


def update_statement(model: type[Model], values: dict[str, Any], where: str,
                     params: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
    """``UPDATE ... SET <values> WHERE <where>`` and its parameters (PostgreSQL; see
    :meth:`~selinon_django.runtime.writes.Batch.update_where`)."""
    connection = connections[DEFAULT_DB_ALIAS]
    columns = tuple(values)
    prepared = [db_value(model_field(model, c), values[c], connection) for c in columns]
    return _update_sql(model, columns, where), (*prepared, *params)


def db_value(field: Any, value: Any, connection: Any) -> Any:
    """``field.get_db_prep_save(value)``; an aware datetime goes as it is (PostgreSQL takes it, and
    Django's checks of it were a third of a big step's preparation)."""
    if isinstance(value, datetime) and value.tzinfo is not None and isinstance(field, DateTimeField):
        return value
    return field.get_db_prep_save(value, connection)


def model_field(model: type[Model], name: str) -> Field[Any, Any]:
    return cast("Field[Any, Any]", model._meta.get_field(name))


#: parameters of one statement at most: PostgreSQL's protocol counts them in 16 bits (with
#: server-side binding); bigger batches go as several statements of the caller's transaction
MAX_PARAMS = 65_535


_Item = TypeVar("_Item")


def row_chunks(items: Sequence[_Item], columns: int) -> list[Sequence[_Item]]:
    """``items`` (rows of ``columns`` values each) cut so that one statement's parameters stay
    well under :data:`MAX_PARAMS` (half, leaving room for the batch's other clauses)."""
    per_statement = max(1, MAX_PARAMS // (2 * columns))
    return [items[start:start + per_statement] for start in range(0, len(items), per_statement)]


def statement_groups(statements: list[tuple[str, tuple[Any, ...]]]) -> list[list[tuple[str, tuple[Any, ...]]]]:
    """Consecutive statements joined while their parameters fit in one statement."""
    groups: list[list[tuple[str, tuple[Any, ...]]]] = []
    size = 0
    for statement in statements:
        if not groups or size + len(statement[1]) > MAX_PARAMS:
            groups.append([])
            size = 0
        groups[-1].append(statement)
        size += len(statement[1])
    return groups


#: from this many rows on, a batch's rows inserted inside a transaction go by ``COPY``
COPY_ROWS = 200
