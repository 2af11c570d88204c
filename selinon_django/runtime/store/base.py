"""The run store: every statement of the runtime whose shape depends on the database.

The runtime decides *what* to write (a node's end, a run's step, its trace rows and messages);
the store decides *how* the database it runs on writes it. :class:`RunStore` is the generic
implementation, through Django's ORM, for any database (the embedded SQLite demo): each write
runs at once, locks are the row locks of ``select_for_update`` and nothing else.
:class:`~selinon_django.runtime.store.postgresql.PostgresRunStore` holds what only PostgreSQL
does - a step's writes in one statement of ``WITH`` clauses, ``COPY``, the guarded statement of
an optimistic hop, the one-statement claim and fan-in, session advisory locks (a node's claim,
a worker's sign of life) - so no other module asks which database it runs on: it asks the store
(:func:`~selinon_django.runtime.store.run_store`) what it can do (:attr:`RunStore.combines_writes`,
:attr:`RunStore.session_locks`).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from django.db.models import Model, QuerySet

from selinon_django.models.runs import FlowRun

if TYPE_CHECKING:
    from selinon_django.runtime.writes import Batch


class GuardFailed(Exception):
    """The guard of a batch changed no row: nothing of the batch was written."""


@dataclass(frozen=True)
class Claim:
    """What the one-statement claim of a node (:meth:`RunStore.claim`) found and did."""

    #: this session holds the node's advisory lock now
    got: bool
    #: the node-run row as it was before the claim (None: no such node)
    status: str | None
    attempts: int | None
    #: the node's flow run ("" when there is no such node)
    run_id: str
    sent_at: Any
    countdown: float | None
    #: the claim marked the node started (this message is its next attempt)
    started: bool
    #: the flow run as the claim read it, unlocked, when it is one to step optimistically
    snapshot: FlowRun | None
    #: the run's state is big (a fan-in: its nodes' ends leave the step to a dispatcher)
    big: bool


@dataclass(frozen=True)
class FanIn:
    """What :meth:`RunStore.record_fan_in` wrote and read."""

    #: the node's row changed (False: a duplicate, nothing written but the batch's other rows)
    changed: bool
    flow_name: str | None
    revision_id: int | None
    state_version: int | None
    #: the run's active nodes when this statement marked it pending
    active: int | None
    #: this statement marked the run pending: its dispatcher message is to be published
    marked: bool


class RunStore:
    """The generic store: Django's ORM, each write at once (see the module docstring)."""

    #: a batch's writes are collected and sent as one statement by :meth:`execute` (else each
    #: write runs when it is added, and nothing is guarded)
    combines_writes: ClassVar[bool] = False
    #: locks that live as long as a database session (a node's claim, a worker's sign of life;
    #: else a process that died is found only by the broker redelivering its messages)
    session_locks: ClassVar[bool] = False

    # -- a batch's writes (see :class:`~selinon_django.runtime.writes.Batch`)

    def insert(self, batch: Batch, model: type[Model], objs: Sequence[Model]) -> None:
        model._default_manager.bulk_create(list(objs))

    def insert_rows(self, batch: Batch, model: type[Model], columns: Sequence[str],
                    rows: Sequence[Sequence[Any]]) -> None:
        model._default_manager.bulk_create([model(**dict(zip(columns, row, strict=True))) for row in rows])

    def update_where(self, batch: Batch, model: type[Model], values: dict[str, Any], where: str,
                     params: Sequence[Any], queryset: Callable[[], QuerySet[Any]], *, guard: bool) -> None:
        if guard:
            raise ValueError("a guarded batch needs a store that combines writes")
        queryset().update(**values)

    def swap_locks_when_guarded(self, batch: Batch, *, take: int, release: int) -> None:
        raise ValueError("locks taken by a guarded statement need session locks")

    def execute(self, batch: Batch, returning: tuple[type[Model], Sequence[Model]] | None) -> list[Any]:
        if returning is None:
            return []
        model, objs = returning
        return [obj.pk for obj in model._default_manager.bulk_create(list(objs))]

    # -- locks

    def try_lock(self, key: int, db: Any = None) -> bool:
        """Take the session lock ``key`` if free (always granted without session locks)."""
        return True

    def unlock(self, key: int, db: Any = None) -> None:
        """Release the session lock ``key`` (the caller handles a dead connection)."""

    def held_keys(self) -> set[int]:
        """Every session lock some session of the database holds right now."""
        return set()

    def try_sweep_lock(self, key: int) -> bool:
        """The transaction-level lock that lets one sweeper work at a time (never waited for)."""
        return True

    # -- a hop's statements

    def claim(self, params: Mapping[str, Any]) -> Claim:
        """Lock, read and mark started a node in one statement (stores with session locks)."""
        raise NotImplementedError("a one-statement claim needs session locks")

    def finish_node_and_lock_run(self, node_rows: QuerySet[Any], values: dict[str, Any],
                                 run_rows: QuerySet[FlowRun]) -> tuple[bool, FlowRun | None]:
        """``node_rows.update(**values)`` and, if it changed a row, the run's row read and
        locked by ``run_rows``: (whether the update changed a row, the run)."""
        if not node_rows.update(**values):
            return False, None
        return True, run_rows.first()

    def record_fan_in(self, batch: Batch, node_update: tuple[type[Model], dict[str, Any], str, Sequence[Any]],
                      run_id: str, *, pending: Any, unfinished: list[str], now: Any) -> FanIn:
        """A node's end, ``batch``'s writes and the run marked pending (when no wake-up is) in
        one statement without a transaction (stores that combine writes)."""
        raise NotImplementedError("a one-statement fan-in needs a store that combines writes")

    # -- reads for the admin

    def estimated_rows(self, db_table: str, db: Any = None) -> int | None:
        """The planner's estimate of ``db_table``'s rows (None: the database gives none, or the
        table was never analysed): a stand-in for counting a huge table."""
        return None

    def flow_series(self, *, start: Any, step: int, statuses: Sequence[str], succeeded: str,
                    db: Any = None) -> list[tuple[Any, ...]] | None:
        """The dashboard's series aggregated by the database, or None (the caller aggregates):
        rows of (flow name, bucket of ``step`` seconds since ``start`` or None for the whole
        window, a count per status in ``statuses``' order, [p50, p95] of the durations of
        ``succeeded`` runs or None), for the runs created since ``start``."""
        return None

    def upsert(self, model: type[Model], row: Model, *, unique_field: str, update_fields: list[str]) -> None:
        """Insert ``row``, or update ``update_fields`` of the row whose ``unique_field`` it has."""
        model._default_manager.bulk_create([row], update_conflicts=True, unique_fields=[unique_field],
                                           update_fields=update_fields)
