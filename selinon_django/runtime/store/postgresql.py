"""The PostgreSQL run store: every CTE, ``COPY``, advisory lock and guarded statement.

**A batch as one statement.** A dispatcher step ends with several writes whose results nobody
reads: the new node-run (and sub-flow run) rows, the flow run's new state, the trace rows, the
outbox rows. Each costs a round trip, which is most of a hop's time for a no-op task, so a batch
(:class:`~selinon_django.runtime.writes.Batch`) collects them and :meth:`PostgresRunStore.execute`
sends them as one statement of data-modifying ``WITH`` clauses (they all run, in one snapshot,
and constraints are checked at the end of the statement, so rows may refer to rows inserted
beside them). Three refinements: a batch bigger than one statement may carry
(:data:`~.sql.MAX_PARAMS`; inserts whose keys are read back still go as ``VALUES``) goes as
several statements of the caller's transaction; thousands of rows inside a transaction (a big
foreach's step) go by ``COPY`` at once; and a *guarded* batch is one statement that writes
nothing unless its guard changed a row - the optimistic hop's commit without a transaction.

**Session advisory locks** live exactly as long as the database session that took them (see
:mod:`~selinon_django.runtime.advisory` for the keys): a node's claim, a worker's sign of life.

**A hop's other statements**: the claim (lock, read, mark started, read the run - one round trip),
a node's end with the locking read of its run, a big run's fan-in, an upsert.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

from django.db import DEFAULT_DB_ALIAS, DataError, connections
from django.db.models import JSONField, Model, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.sql import UpdateQuery
from psycopg.types.json import Jsonb

from selinon_django.models.runs import FlowRun, NodeRun
from selinon_django.runtime.store import sql as statements_sql
from selinon_django.runtime.store.base import Claim, FanIn, GuardFailed, RunStore

if TYPE_CHECKING:
    from selinon_django.runtime.writes import Batch

Statement = tuple[str, tuple[Any, ...]]

#: every advisory lock of the current database that some session holds, as the bigint key it
#: was taken with (``pg_advisory_lock(bigint)`` stores it as two 32-bit halves)
_HELD_SQL = """
SELECT DISTINCT (classid::bigint << 32) | objid::bigint FROM pg_locks
WHERE locktype = 'advisory' AND objsubid = 1 AND granted
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""

#: lock the node id, read the row and, when this message is the node's next attempt, mark it
#: started - one round trip. The row as it was (``cur``) classifies a message that did not start
#: the node (duplicate, lost attempt, unknown) and says when it was sent (monitoring's queue wait);
#: ``upd`` says whether it did. ``snap`` is the flow run as it is now, state included when it is
#: small and no step is pending: the snapshot an optimistic step starts from when the task ends.
_CLAIM_SQL = """
WITH lk AS MATERIALIZED (SELECT pg_try_advisory_lock(%(key)s) AS got),
ul AS MATERIALIZED (SELECT pg_advisory_unlock(%(previous)s) AS released),
cur AS (SELECT status, attempts, flow_run_id, sent_at, countdown FROM {table} WHERE id = %(id)s),
upd AS (
    UPDATE {table} AS n SET status = %(started)s, attempts = n.attempts + 1, worker = %(worker)s,
        carried_by = %(carrier)s, started_at = %(now)s, updated_at = %(now)s,
        received_at = COALESCE(n.received_at, %(now)s)
    FROM lk
    WHERE lk.got AND n.id = %(id)s AND n.attempts = %(expected)s AND n.status <> ALL(%(finished)s)
    RETURNING n.id
),
snap AS (
    SELECT {run_columns}, CASE WHEN fr.status <> %(running)s OR fr.next_wakeup_at IS NOT DISTINCT FROM %(pending)s
        THEN NULL WHEN pg_column_size(fr.state) > %(snapshot_bytes)s THEN NULL
        WHEN jsonb_array_length(fr.state->'active_nodes') <= %(snapshot_limit)s THEN fr.state END,
        pg_column_size(fr.state) > %(snapshot_bytes)s
    FROM {run_table} AS fr WHERE fr.id = (SELECT flow_run_id FROM cur)
)
SELECT lk.got, cur.status, cur.attempts, cur.flow_run_id, cur.sent_at, cur.countdown, (SELECT count(*) FROM upd),
    (SELECT count(*) FROM ul), snap.* FROM lk LEFT JOIN cur ON true LEFT JOIN snap ON true
"""

#: one statement in autocommit: the node's end (``{node}``), the batch's other writes
#: (``{others}``: trace rows) and, when no wake-up is pending, the run marked pending - under
#: the run's row lock for the statement's duration, so a step in progress is waited for and its
#: outcome seen (see :mod:`~selinon_django.runtime.wakeups`)
_FAN_IN_SQL = """
WITH node_update AS ({node} RETURNING 1),
{others}
fr AS MATERIALIZED (
    SELECT id, flow_name, revision_id, state_version, status, next_wakeup_at,
        CASE WHEN next_wakeup_at IS DISTINCT FROM %s AND status = ANY(%s)
            THEN jsonb_array_length(state->'active_nodes') END AS active
    FROM {table} WHERE id = %s AND EXISTS (SELECT 1 FROM node_update) FOR UPDATE
),
marked AS (
    UPDATE {table} AS f SET next_wakeup_at = %s, updated_at = %s FROM fr
    WHERE f.id = fr.id AND fr.active IS NOT NULL RETURNING f.id
)
SELECT (SELECT count(*) FROM node_update), fr.flow_name, fr.revision_id, fr.state_version, fr.active,
    (SELECT count(*) FROM marked) FROM (SELECT 1) AS one LEFT JOIN fr ON true
"""


def _connection(db: Any = None) -> Any:
    return db if db is not None else connections[DEFAULT_DB_ALIAS]


def _copy(model: type[Model], fields: Sequence[Any], rows: Any) -> None:
    """``COPY`` ``rows`` (values ready for the driver) into ``model``'s table, now."""
    connection = _connection()
    quote = connection.ops.quote_name
    names = ", ".join(quote(str(field.column)) for field in fields)
    statement = f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _wrap_json(row: Sequence[Any], json_at: list[int]) -> list[Any]:
    values = list(row)
    for i in json_at:
        if values[i] is not None:
            values[i] = Jsonb(values[i])
    return values


class PostgresRunStore(RunStore):
    """See the module docstring."""

    combines_writes: ClassVar[bool] = True
    session_locks: ClassVar[bool] = True

    def __init__(self) -> None:
        self._claim: tuple[str, list[Any]] | None = None

    # -- a batch's writes

    def insert(self, batch: Batch, model: type[Model], objs: Sequence[Model]) -> None:
        connection = _connection()
        keyed = all(obj.pk is not None for obj in objs)
        fields = [f for f in model._meta.concrete_fields if not f.generated]
        if len(objs) >= statements_sql.COPY_ROWS and connection.in_atomic_block and keyed:
            # a big step's thousands of new node runs (see insert_rows)
            _copy(model, fields, ([statements_sql.db_value(f, f.pre_save(obj, True), connection) for f in fields]
                                  for obj in objs))
            return
        if keyed:
            # the rows as one JSON parameter, as insert_rows does: one statement text whatever the
            # number of rows (a step starting two nodes and one starting three share it)
            columns = tuple(f.attname for f in fields)
            rows = ([statements_sql.json_ready(f, f.pre_save(obj, True), connection) for f in fields] for obj in objs)
            batch.statements.append((statements_sql.recordset_sql(model, columns),
                                     (statements_sql.rows_json(model, columns, rows),)))
            return
        for chunk in statements_sql.row_chunks(objs, len(model._meta.concrete_fields)):
            batch.statements.append(statements_sql.insert_sql(model, chunk, returning=False))

    def insert_rows(self, batch: Batch, model: type[Model], columns: Sequence[str],
                    rows: Sequence[Sequence[Any]]) -> None:
        if len(rows) >= statements_sql.COPY_ROWS and _connection().in_atomic_block:
            # a big step's thousands of trace rows: COPY is several times cheaper than one
            # INSERT with tens of thousands of parameters (inside the caller's transaction, so
            # it stays all-or-nothing with the rest of the batch; written before the batch's
            # other statements, which is fine: foreign keys are checked at commit)
            fields = [statements_sql.model_field(model, column) for column in columns]
            json_at = [i for i, field in enumerate(fields) if isinstance(field, JSONField)]
            _copy(model, fields, [_wrap_json(row, json_at) for row in rows] if json_at else rows)
            return
        # the rows as one JSON parameter: the same text and one parameter whatever the number of
        # rows (a hop's statement stays prepared, and under psycopg's 50 parameters above which it
        # parses the statement again on every execution; json.dumps is faster than psycopg's
        # dumping of one array per column, element by element)
        batch.statements.append((statements_sql.recordset_sql(model, tuple(columns)),
                                 (statements_sql.rows_json(model, columns, rows),)))

    def update_where(self, batch: Batch, model: type[Model], values: dict[str, Any], where: str,
                     params: Sequence[Any], queryset: Callable[[], QuerySet[Any]], *, guard: bool) -> None:
        sql, all_params = statements_sql.update_statement(model, values, where, params)
        if guard:
            if batch.guard_index is not None:
                raise ValueError("a guarded batch has one guard")
            batch.guard_index = len(batch.statements)
            sql += " RETURNING 1"
        batch.statements.append((sql, all_params))

    def swap_locks_when_guarded(self, batch: Batch, *, take: int, release: int) -> None:
        batch.when_guarded("pg_try_advisory_lock(%s)", [take])
        batch.when_guarded("pg_advisory_unlock(%s)", [release])

    def execute(self, batch: Batch, returning: tuple[type[Model], Sequence[Model]] | None) -> list[Any]:
        if batch.guard_index is not None:
            return self._execute_guarded(batch, returning)
        statements, batch.statements = batch.statements, []
        groups = statements_sql.statement_groups(statements)
        if returning is not None:
            # each insert whose keys are returned ends a statement of its own (a WITH clause's
            # RETURNING rows would be lost)
            model, objs = returning
            for chunk in statements_sql.row_chunks(objs, len(model._meta.concrete_fields)):
                insert = statements_sql.insert_sql(model, chunk, returning=True)
                last = groups[-1] if groups else None
                if last is not None and not last[-1][0].endswith(statements_sql.RETURNING_MARK) and (
                    sum(len(ps) for _, ps in last) + len(insert[1]) <= statements_sql.MAX_PARAMS
                ):
                    last.append(insert)
                else:
                    groups.append([insert])
        ids: list[Any] = []
        with _connection().cursor() as cursor:
            for group in groups:
                *before, last_statement = group
                sql, params = last_statement
                if before:
                    clauses = ", ".join(f"w{i} AS ({s})" for i, (s, _) in enumerate(before))
                    sql = f"WITH {clauses} {sql}"
                    params = (*(p for _, ps in before for p in ps), *params)
                cursor.execute(sql, params)
                if last_statement[0].endswith(statements_sql.RETURNING_MARK):
                    ids.extend(row[0] for row in cursor.fetchall())
        return ids

    def _execute_guarded(self, batch: Batch, returning: tuple[type[Model], Sequence[Model]] | None) -> list[Any]:
        """All writes as ``WITH`` clauses and a final ``SELECT`` that divides by the number of
        rows the guard changed: zero raises ``division_by_zero``, which undoes the statement."""
        statements, batch.statements = batch.statements, []
        guard, batch.guard_index = batch.guard_index, None
        calls, batch.guarded_calls = batch.guarded_calls, []
        if returning is not None:
            statements.append(statements_sql.insert_sql(*returning, returning=True))
        if sum(len(ps) for _, ps in statements) > statements_sql.MAX_PARAMS:
            raise GuardFailed("too many writes for one statement")  # the caller's locked path splits them
        clauses = ", ".join(f"w{i} AS ({s})" for i, (s, _) in enumerate(statements))
        ids = f"ARRAY(SELECT * FROM w{len(statements) - 1})" if returning is not None else "NULL"
        # CASE evaluates a call only when the guard changed a row (else the division fails)
        extra = "".join(f", CASE WHEN (SELECT count(*) FROM w{guard}) > 0 THEN {e} END" for e, _ in calls)
        sql = f"WITH {clauses} SELECT 1 / (SELECT count(*)::int FROM w{guard}), {ids}{extra}"
        params = tuple(p for _, ps in [*statements, *calls] for p in ps)
        with _connection().cursor() as cursor:
            try:
                cursor.execute(sql, params)
            except DataError as error:
                if getattr(error.__cause__, "sqlstate", None) == "22012":
                    raise GuardFailed from error
                raise
            row = cursor.fetchone()
        batch.guarded_results = list(row[2:])
        return list(row[1] or []) if returning is not None else []

    # -- locks

    def try_lock(self, key: int, db: Any = None) -> bool:
        with _connection(db).cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            return bool(cursor.fetchone()[0])

    def unlock(self, key: int, db: Any = None) -> None:
        with _connection(db).cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])

    def held_keys(self) -> set[int]:
        with _connection().cursor() as cursor:
            cursor.execute(_HELD_SQL)
            return {int(row[0]) for row in cursor.fetchall()}

    def try_sweep_lock(self, key: int) -> bool:
        with _connection().cursor() as cursor:
            # A background sweep never waits for locks: it gives up (and tries again next time)
            # rather than queue behind, or deadlock with, a migration or a TRUNCATE.
            cursor.execute("SET LOCAL lock_timeout = '200ms'")
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
            return bool(cursor.fetchone()[0])

    # -- a hop's statements

    def _claim_sql(self) -> tuple[str, list[Any]]:
        """The claim statement, and the flow-run fields its snapshot columns hold."""
        if self._claim is None:
            quote = _connection().ops.quote_name
            fields = [f for f in FlowRun._meta.concrete_fields if f.attname != "state"]
            sql = _CLAIM_SQL.format(
                table=quote(NodeRun._meta.db_table), run_table=quote(FlowRun._meta.db_table),
                run_columns=", ".join(f"fr.{quote(str(f.column))}" for f in fields),
            )
            self._claim = (sql, fields)
        return self._claim

    def claim(self, params: Mapping[str, Any]) -> Claim:
        sql, run_fields = self._claim_sql()
        with _connection().cursor() as cursor:
            cursor.execute(sql, params)
            got, status, attempts, run_id, sent_at, countdown, started, _released, *run_values = cursor.fetchone()
        snapshot, big = _snapshot(run_fields, run_values)
        return Claim(got=bool(got), status=status, attempts=attempts, run_id=run_id or "", sent_at=sent_at,
                     countdown=countdown, started=bool(started), snapshot=snapshot, big=big)

    def finish_node_and_lock_run(self, node_rows: QuerySet[Any], values: dict[str, Any],
                                 run_rows: QuerySet[FlowRun]) -> tuple[bool, FlowRun | None]:
        """One statement: the update as a ``WITH`` clause of the locking read."""
        update = cast(UpdateQuery, node_rows.query.chain(UpdateQuery))
        update.add_update_values(values)
        update_sql, update_params = update.get_compiler(node_rows.db).as_sql()
        rows = run_rows.annotate(node_changed=RawSQL("(SELECT count(*) FROM node_update)", ()))
        select_sql, select_params = rows.query.get_compiler(DEFAULT_DB_ALIAS).as_sql()
        sql = f"WITH node_update AS ({update_sql} RETURNING 1) {select_sql}"
        found = list(FlowRun.objects.raw(sql, tuple(update_params) + tuple(select_params)))
        if not found or not getattr(found[0], "node_changed", 0):
            return False, None
        run = found[0]
        small = getattr(run, "small_state", None)
        if isinstance(small, str):  # raw rows leave annotations as the driver returned them
            setattr(run, "small_state", json.loads(small))  # noqa: B010 - an annotation, not a field
        return True, run

    def record_fan_in(self, batch: Batch, node_update: tuple[type[Model], dict[str, Any], str, Sequence[Any]],
                      run_id: str, *, pending: Any, unfinished: list[str], now: Any) -> FanIn:
        node_sql, node_params = statements_sql.update_statement(*node_update)
        statements, batch.statements = batch.statements, []
        if batch.guard_index is not None:
            raise ValueError("a guarded batch cannot be joined")
        others = "".join(f"x{i} AS ({sql}),\n" for i, (sql, _) in enumerate(statements))
        other_params = tuple(p for _, ps in statements for p in ps)
        table = _connection().ops.quote_name(FlowRun._meta.db_table)
        sql = _FAN_IN_SQL.format(node=node_sql, others=others, table=table)
        params = (*node_params, *other_params, pending, unfinished, run_id, pending, now)
        with _connection().cursor() as cursor:
            cursor.execute(sql, params)
            changed, flow_name, revision_id, state_version, active, marked = cursor.fetchone()
        return FanIn(changed=bool(changed), flow_name=flow_name, revision_id=revision_id,
                     state_version=state_version, active=active, marked=bool(marked))

    # -- reads for the admin

    def estimated_rows(self, db_table: str, db: Any = None) -> int | None:
        with _connection(db).cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [db_table])
            row = cursor.fetchone()
        if row is None or row[0] is None or row[0] < 0:  # -1: never analysed
            return None
        return int(row[0])

    def flow_series(self, *, start: Any, step: int, statuses: Sequence[str], succeeded: str,
                    db: Any = None) -> list[tuple[Any, ...]] | None:
        """One statement: ``GROUPING SETS`` of (flow, bucket) and (flow), ``percentile_cont``."""
        status_counts = ", ".join(f"count(*) FILTER (WHERE status = %s) AS n_{index}"
                                  for index, _ in enumerate(statuses))
        sql = f"""
            SELECT flow_name,
                   floor(extract(epoch FROM created_at - %s) / %s)::int AS bucket,
                   {status_counts},
                   percentile_cont(ARRAY[0.5, 0.95])
                       WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at))
                       FILTER (WHERE status = %s AND started_at IS NOT NULL AND finished_at IS NOT NULL)
            FROM {FlowRun._meta.db_table}
            WHERE created_at >= %s
            GROUP BY GROUPING SETS ((flow_name, bucket), (flow_name))
        """
        params: list[Any] = [start, step, *statuses, succeeded, start]
        with _connection(db).cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def upsert(self, model: type[Model], row: Model, *, unique_field: str, update_fields: list[str]) -> None:
        """One statement (``bulk_create`` adds a transaction around its insert)."""
        connection = _connection()
        sql, params = statements_sql.insert_statement(model, [row])
        quote = connection.ops.quote_name
        columns = [quote(str(statements_sql.model_field(model, name).column)) for name in update_fields]
        sql += (f" ON CONFLICT ({quote(str(statements_sql.model_field(model, unique_field).column))}) DO UPDATE SET "
                + ", ".join(f"{column} = EXCLUDED.{column}" for column in columns))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def _snapshot(fields: list[Any], values: list[Any]) -> tuple[FlowRun | None, bool]:
    """What the claim read of the flow run (``snap``): the run, unlocked, or None when it is not
    one to step optimistically; and whether its state is big (a fan-in)."""
    *columns, state, big = values
    if state is None or columns[0] is None:
        return None, bool(big)
    decoded = []
    for field, value in zip(fields, columns, strict=True):
        if isinstance(value, str) and isinstance(field, JSONField):
            value = json.loads(value)
        decoded.append(value)
    run = FlowRun(**{f.attname: v for f, v in zip(fields, decoded, strict=True)})
    run.state = json.loads(state) if isinstance(state, str) else state
    run._state.adding = False
    return run, bool(big)
