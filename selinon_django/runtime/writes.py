"""Writes of one step, sent together by the run store.

A dispatcher step ends with several writes whose results nobody reads: the new node-run (and
sub-flow run) rows, the flow run's new state, the trace rows, the outbox rows. A :class:`Batch`
collects them and :meth:`Batch.execute` sends them; how is the run store's
(:mod:`selinon_django.runtime.store`): on PostgreSQL as one statement of ``WITH`` clauses (and a
*guarded* batch - :meth:`Batch.update_where` with ``guard=True`` - writes nothing unless its guard
changed a row: the optimistic hop's commit without a transaction), on other databases each write
at once, as it is added. Nothing may read what a batch holds before it is executed: callers
execute it before any read that could depend on it.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import Model, QuerySet

from selinon_django.runtime.store import RunStore, run_store


class Batch:
    """Writes to send together; see the module docstring."""

    def __init__(self, store: RunStore | None = None) -> None:
        self.store = store if store is not None else run_store()
        #: the writes wait for :meth:`execute` (else each runs as it is added)
        self.combines = self.store.combines_writes
        #: statements collected by a store that combines writes
        self.statements: list[tuple[str, tuple[Any, ...]]] = []
        #: index in ``statements`` of the update that must change exactly one row (see
        #: :meth:`update_where`)
        self.guard_index: int | None = None
        #: expressions evaluated once the guard changed a row (see :meth:`when_guarded`), and
        #: their values after :meth:`execute`
        self.guarded_calls: list[tuple[str, tuple[Any, ...]]] = []
        self.guarded_results: list[Any] = []

    def insert(self, model: type[Model], objs: Sequence[Model]) -> None:
        if objs:
            self.store.insert(self, model, objs)

    def insert_rows(self, model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert plain rows (values by attribute name in ``columns``), without model instances
        or Django's insert compiler: the statement is built once per shape.

        The values must be what the driver takes as they are (str, numbers, None, aware
        datetimes), JSON fields' values excepted: rows come by the thousand from a big step, and
        Django's per-value preparation cost more than writing them.
        """
        if rows:
            self.store.insert_rows(self, model, columns, rows)

    def update_where(self, model: type[Model], values: dict[str, Any], where: str, params: Sequence[Any],
                     queryset: Callable[[], QuerySet[Any]], *, guard: bool = False) -> None:
        """``queryset().update(**values)`` - where the store combines writes as ``UPDATE ... WHERE
        <where>`` with the statement text cached (``where``: plain SQL over the table's columns,
        ``%s`` for ``params``), elsewhere through the ORM.

        ``guard``: this update must change a row, or the whole batch is undone. This is how an
        optimistic step commits without a transaction: the update of the flow-run row is
        conditioned on the ``state_version`` the step was computed from, and when another step
        got there first the statement fails with :class:`~selinon_django.runtime.store.GuardFailed`
        and writes nothing - every clause of one statement commits or none does (stores that
        combine writes only).
        """
        self.store.update_where(self, model, values, where, params, queryset, guard=guard)

    def swap_locks_when_guarded(self, *, take: int, release: int) -> None:
        """Take the session lock ``take`` and release ``release`` in the guarded statement, only
        when its guard changed a row (a successor run inline takes over from the finished node);
        whether ``take`` was taken is ``guarded_results[0]`` after :meth:`execute`."""
        self.store.swap_locks_when_guarded(self, take=take, release=release)

    def when_guarded(self, expression: str, params: Sequence[Any]) -> None:
        """Evaluate an SQL expression with side effects (an advisory lock's call) in the guarded
        statement, only when its guard changed a row: the statement does all or nothing, these
        calls included (session advisory locks ignore a rollback, so they cannot simply run first).
        Their values are in :attr:`guarded_results` after :meth:`execute` (for the store)."""
        if self.guard_index is None:
            raise ValueError("when_guarded needs a guarded batch (update_where with guard=True first)")
        self.guarded_calls.append((expression, tuple(params)))

    def execute(self, returning: tuple[type[Model], Sequence[Model]] | None = None) -> list[Any]:
        """Send the collected writes, plus ``returning`` (rows to insert whose primary keys are
        returned); returns those keys."""
        return self.store.execute(self, returning)
