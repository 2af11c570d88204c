"""Writes of one transaction sent to PostgreSQL as one statement.

A dispatcher step ends with several writes whose results nobody reads: the new node-run (and
sub-flow run) rows, the flow run's new state, the trace rows, the outbox rows. Each costs a
round trip to the server, which is most of a hop's time for a no-op task. On PostgreSQL a
:class:`Batch` collects them and :meth:`Batch.execute` sends them as one statement of
data-modifying ``WITH`` clauses (they all run, in one snapshot, and constraints are checked at
the end of the statement, so rows may refer to rows inserted beside them). Nothing may read
what a batch holds before it is executed: callers execute it before any read that could
depend on it. On other databases every write runs at once, as before.

Rows to insert go as one JSON parameter (``INSERT ... SELECT ... FROM jsonb_to_recordset(...)``):
the statement text does not depend on how many rows there are, so it stays prepared, and it keeps
few parameters (psycopg parses a statement of more than 50 again on every execution); ``json.dumps``
writes the rows faster than psycopg dumps an array per column (a chain hop's statement 1.3 -> 0.7
ms). Three
refinements: a batch bigger than one statement may carry (:data:`MAX_PARAMS`; inserts whose keys
are read back still go as ``VALUES``) goes as several statements of the caller's transaction;
thousands of rows inside a transaction (a big foreach's step) go by ``COPY`` at once; and a
*guarded* batch (:meth:`Batch.update_where` with
``guard=True``) is one statement that writes nothing unless its guard changed a row - the
optimistic hop's commit without a transaction.

The values are prepared by Django's fields, as its compilers do; the statement texts are built
once per shape (compiling them per write cost more than sending them).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar, cast

from django.db import DEFAULT_DB_ALIAS, DataError, connections
from django.db.models import AutoField, DateTimeField, Field, JSONField, Model, QuerySet


def _insert_sql(model: type[Model], objs: Sequence[Model], *, returning: bool) -> tuple[str, tuple[Any, ...]]:
    """Django's insert without its compiler: the same ``pre_save``/``get_db_prep_save`` per value,
    and the statement text cached per shape (building it was a tenth of a hop)."""
    opts = model._meta
    fields = [f for f in opts.concrete_fields if not f.generated]
    if any(obj.pk is None for obj in objs):
        fields = [f for f in fields if not isinstance(f, AutoField)]
    connection = connections[DEFAULT_DB_ALIAS]
    params = [_prepared(f, f.pre_save(obj, True), connection) for obj in objs for f in fields]
    sql = _values_sql(model, tuple(f.attname for f in fields), len(objs))
    if returning:
        sql += f" RETURNING {connection.ops.quote_name(str(opts.pk.column))}{_RETURNING_MARK}"
    return sql, tuple(params)


def insert_statement(model: type[Model], objs: Sequence[Model]) -> tuple[str, tuple[Any, ...]]:
    """``INSERT ... VALUES`` of ``objs`` and its parameters (PostgreSQL), for a caller that
    completes the statement (an ``ON CONFLICT`` clause, say)."""
    return _insert_sql(model, objs, returning=False)


#: ends the text of an insert whose keys are read back (an SQL comment)
_RETURNING_MARK = " /* keys */"


@lru_cache(maxsize=256)
def _values_sql(model: type[Model], columns: tuple[str, ...], count: int) -> str:
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    names = ", ".join(quote(str(_field(model, c).column)) for c in columns)
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    return f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES " + ", ".join([row] * count)


@lru_cache(maxsize=64)
def _recordset_sql(model: type[Model], columns: tuple[str, ...]) -> str:
    """``INSERT ... SELECT ... FROM jsonb_to_recordset(<the rows as one JSON array>)`` (PostgreSQL)."""
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    fields = [_field(model, c) for c in columns]
    names = ", ".join(quote(str(f.column)) for f in fields)
    types = ", ".join(f"{quote(str(f.column))} {f.db_type(connection)}" for f in fields)
    return (f"INSERT INTO {quote(model._meta.db_table)} ({names}) "
            f"SELECT {names} FROM jsonb_to_recordset(%s::jsonb) AS r({types})")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _rows_json(model: type[Model], columns: Sequence[str], rows: Any) -> str:
    """Rows (values by ``columns``) as the JSON array :func:`_recordset_sql` reads."""
    names = [str(_field(model, c).column) for c in columns]
    return json.dumps([dict(zip(names, row, strict=True)) for row in rows], default=_json_default,
                      separators=(",", ":"))


def _json_ready(field: Any, value: Any, connection: Any) -> Any:
    """A model value as :func:`_rows_json` takes it: JSON fields' values as they are (they are
    JSON already), the others as the database takes them (datetimes become ISO text there)."""
    if value is None or isinstance(field, JSONField) or isinstance(value, (str, int, float, datetime)):
        return value  # plain values need no preparation
    return field.get_db_prep_save(value, connection)


@lru_cache(maxsize=256)
def _update_sql(model: type[Model], columns: tuple[str, ...], where: str) -> str:
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    assignments = ", ".join(f"{quote(str(_field(model, c).column))} = %s" for c in columns)
    return f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {where}"


def update_statement(model: type[Model], values: dict[str, Any], where: str,
                     params: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
    """``UPDATE ... SET <values> WHERE <where>`` and its parameters (PostgreSQL; see
    :meth:`Batch.update_where`)."""
    connection = connections[DEFAULT_DB_ALIAS]
    columns = tuple(values)
    prepared = [_prepared(_field(model, c), values[c], connection) for c in columns]
    return _update_sql(model, columns, where), (*prepared, *params)


def _prepared(field: Any, value: Any, connection: Any) -> Any:
    """``field.get_db_prep_save(value)``; an aware datetime goes as it is (PostgreSQL takes it, and
    Django's checks of it were a third of a big step's preparation)."""
    if isinstance(value, datetime) and value.tzinfo is not None and isinstance(field, DateTimeField):
        return value
    return field.get_db_prep_save(value, connection)


def _copy(model: type[Model], fields: Sequence[Any], rows: Any) -> None:
    """``COPY`` ``rows`` (values ready for the driver) into ``model``'s table, now."""
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    names = ", ".join(quote(str(field.column)) for field in fields)
    statement = f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _wrap_json(row: Sequence[Any], json_at: list[int]) -> list[Any]:
    from psycopg.types.json import Jsonb  # PostgreSQL only (the batch combines only there)

    values = list(row)
    for i in json_at:
        if values[i] is not None:
            values[i] = Jsonb(values[i])
    return values


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    return cast("Field[Any, Any]", model._meta.get_field(name))


#: parameters of one statement at most: PostgreSQL's protocol counts them in 16 bits (with
#: server-side binding); bigger batches go as several statements of the caller's transaction
MAX_PARAMS = 65_535


_Item = TypeVar("_Item")


def _chunks(items: Sequence[_Item], columns: int) -> list[Sequence[_Item]]:
    """``items`` (rows of ``columns`` values each) cut so that one statement's parameters stay
    well under :data:`MAX_PARAMS` (half, leaving room for the batch's other clauses)."""
    per_statement = max(1, MAX_PARAMS // (2 * columns))
    return [items[start:start + per_statement] for start in range(0, len(items), per_statement)]


def _groups(statements: list[tuple[str, tuple[Any, ...]]]) -> list[list[tuple[str, tuple[Any, ...]]]]:
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


#: from this many rows on, :meth:`Batch.insert_rows` inside a transaction uses ``COPY``
COPY_ROWS = 200


class Batch:
    """Writes to send together; see the module docstring."""

    def __init__(self) -> None:
        self.combines = connections[DEFAULT_DB_ALIAS].vendor == "postgresql"
        self.statements: list[tuple[str, tuple[Any, ...]]] = []
        #: index in ``statements`` of the update that must change exactly one row (see
        #: :meth:`update_where`)
        self.guard_index: int | None = None
        #: expressions evaluated once the guard changed a row (see :meth:`when_guarded`), and
        #: their values after :meth:`execute`
        self.guarded_calls: list[tuple[str, tuple[Any, ...]]] = []
        self.guarded_results: list[Any] = []

    def insert(self, model: type[Model], objs: Sequence[Model]) -> None:
        if not objs:
            return
        if not self.combines:
            model._default_manager.bulk_create(list(objs))
            return
        connection = connections[DEFAULT_DB_ALIAS]
        keyed = all(obj.pk is not None for obj in objs)
        fields = [f for f in model._meta.concrete_fields if not f.generated]
        if len(objs) >= COPY_ROWS and connection.in_atomic_block and keyed:
            # a big step's thousands of new node runs (see insert_rows)
            _copy(model, fields, ([_prepared(f, f.pre_save(obj, True), connection) for f in fields] for obj in objs))
            return
        if keyed:
            # the rows as one JSON parameter, as insert_rows does: one statement text whatever the
            # number of rows (a step starting two nodes and one starting three share it)
            columns = tuple(f.attname for f in fields)
            rows = ([_json_ready(f, f.pre_save(obj, True), connection) for f in fields] for obj in objs)
            self.statements.append((_recordset_sql(model, columns), (_rows_json(model, columns, rows),)))
            return
        for chunk in _chunks(objs, len(model._meta.concrete_fields)):
            self.statements.append(_insert_sql(model, chunk, returning=False))

    def insert_rows(self, model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert plain rows (values by attribute name in ``columns``), without model instances
        or Django's insert compiler: the statement is built once per shape.

        The values must be what the driver takes as they are (str, numbers, None, aware
        datetimes), JSON fields' values excepted (wrapped here): rows come by the thousand from
        a big step, and Django's per-value preparation cost more than writing them.
        """
        if not rows:
            return
        if not self.combines:
            model._default_manager.bulk_create([model(**dict(zip(columns, row, strict=True))) for row in rows])
            return
        connection = connections[DEFAULT_DB_ALIAS]
        if len(rows) >= COPY_ROWS and connection.in_atomic_block:
            # a big step's thousands of trace rows: COPY is several times cheaper than one
            # INSERT with tens of thousands of parameters (inside the caller's transaction, so
            # it stays all-or-nothing with the rest of the batch; written before the batch's
            # other statements, which is fine: foreign keys are checked at commit)
            fields = [_field(model, column) for column in columns]
            json_at = [i for i, field in enumerate(fields) if isinstance(field, JSONField)]
            _copy(model, fields, [_wrap_json(row, json_at) for row in rows] if json_at else rows)
            return
        # the rows as one JSON parameter: the same text and one parameter whatever the number of
        # rows (a hop's statement stays prepared, and under psycopg's 50 parameters above which it
        # parses the statement again on every execution; json.dumps is faster than psycopg's
        # dumping of one array per column, element by element)
        self.statements.append((_recordset_sql(model, tuple(columns)), (_rows_json(model, columns, rows),)))

    def update_where(self, model: type[Model], values: dict[str, Any], where: str, params: Sequence[Any],
                     queryset: Callable[[], QuerySet[Any]], *, guard: bool = False) -> None:
        """``queryset().update(**values)`` - on PostgreSQL as ``UPDATE ... WHERE <where>`` with the
        statement text cached (``where``: plain SQL over the table's columns, ``%s`` for
        ``params``), elsewhere through the ORM.

        ``guard``: this update must change a row, or the whole batch is undone. This is how an
        optimistic step commits without a transaction: the update of the flow-run row is
        conditioned on the ``state_version`` the step was computed from, and when another step
        got there first the statement fails with :class:`GuardFailed` and writes nothing - every
        clause of one statement commits or none does (PostgreSQL only).
        """
        if not self.combines:
            if guard:
                raise ValueError("a guarded batch needs PostgreSQL")
            queryset().update(**values)
            return
        sql, all_params = update_statement(model, values, where, params)
        if guard:
            if self.guard_index is not None:
                raise ValueError("a guarded batch has one guard")
            self.guard_index = len(self.statements)
            sql += " RETURNING 1"
        self.statements.append((sql, all_params))

    def when_guarded(self, expression: str, params: Sequence[Any]) -> None:
        """Evaluate an SQL expression with side effects (an advisory lock's call) in the guarded
        statement, only when its guard changed a row: the statement does all or nothing, these
        calls included (session advisory locks ignore a rollback, so they cannot simply run first).
        Their values are in :attr:`guarded_results` after :meth:`execute`."""
        if self.guard_index is None:
            raise ValueError("when_guarded needs a guarded batch (update_where with guard=True first)")
        self.guarded_calls.append((expression, tuple(params)))

    def execute(self, returning: tuple[type[Model], Sequence[Model]] | None = None) -> list[Any]:
        """Send the collected writes, plus ``returning`` (rows to insert whose primary keys are
        returned); returns those keys."""
        if returning is not None and not self.combines:
            model, objs = returning
            return [obj.pk for obj in model._default_manager.bulk_create(list(objs))]
        if self.guard_index is not None:
            return self._execute_guarded(returning)
        statements, self.statements = self.statements, []
        groups = _groups(statements)
        if returning is not None:
            # each insert whose keys are returned ends a statement of its own (a WITH clause's
            # RETURNING rows would be lost)
            model, objs = returning
            for chunk in _chunks(objs, len(model._meta.concrete_fields)):
                insert = _insert_sql(model, chunk, returning=True)
                last = groups[-1] if groups else None
                if last is not None and not last[-1][0].endswith(_RETURNING_MARK) and (
                    sum(len(ps) for _, ps in last) + len(insert[1]) <= MAX_PARAMS
                ):
                    last.append(insert)
                else:
                    groups.append([insert])
        ids: list[Any] = []
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            for group in groups:
                *before, last_statement = group
                sql, params = last_statement
                if before:
                    clauses = ", ".join(f"w{i} AS ({s})" for i, (s, _) in enumerate(before))
                    sql = f"WITH {clauses} {sql}"
                    params = (*(p for _, ps in before for p in ps), *params)
                cursor.execute(sql, params)
                if last_statement[0].endswith(_RETURNING_MARK):
                    ids.extend(row[0] for row in cursor.fetchall())
        return ids

    def _execute_guarded(self, returning: tuple[type[Model], Sequence[Model]] | None) -> list[Any]:
        """All writes as ``WITH`` clauses and a final ``SELECT`` that divides by the number of
        rows the guard changed: zero raises ``division_by_zero``, which undoes the statement."""
        statements, self.statements = self.statements, []
        guard, self.guard_index = self.guard_index, None
        calls, self.guarded_calls = self.guarded_calls, []
        if returning is not None:
            statements.append(_insert_sql(*returning, returning=True))
        if sum(len(ps) for _, ps in statements) > MAX_PARAMS:
            raise GuardFailed("too many writes for one statement")  # the caller's locked path splits them
        clauses = ", ".join(f"w{i} AS ({s})" for i, (s, _) in enumerate(statements))
        ids = f"ARRAY(SELECT * FROM w{len(statements) - 1})" if returning is not None else "NULL"
        # CASE evaluates a call only when the guard changed a row (else the division fails)
        extra = "".join(f", CASE WHEN (SELECT count(*) FROM w{guard}) > 0 THEN {e} END" for e, _ in calls)
        sql = f"WITH {clauses} SELECT 1 / (SELECT count(*)::int FROM w{guard}), {ids}{extra}"
        params = tuple(p for _, ps in [*statements, *calls] for p in ps)
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            try:
                cursor.execute(sql, params)
            except DataError as error:
                if getattr(error.__cause__, "sqlstate", None) == "22012":
                    raise GuardFailed from error
                raise
            row = cursor.fetchone()
        self.guarded_results = list(row[2:])
        return list(row[1] or []) if returning is not None else []


class GuardFailed(Exception):
    """The guard of a batch changed no row: nothing of the batch was written."""


def fan_in_clauses(batch: Batch) -> tuple[str, tuple[Any, ...]]:
    """``batch``'s writes as ``WITH`` clauses (each followed by a comma) for a statement built
    around them; empties the batch."""
    statements, batch.statements = batch.statements, []
    if batch.guard_index is not None:
        raise ValueError("a guarded batch cannot be joined")
    clauses = "".join(f"x{i} AS ({sql}),\n" for i, (sql, _) in enumerate(statements))
    return clauses, tuple(p for _, ps in statements for p in ps)
