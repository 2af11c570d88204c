"""The unit of work: what one transaction (or one guarded statement) writes and publishes.

A step's rows and updates (and the guard of an optimistic hop), the messages it causes and the
trace events it records are collected in one :class:`UnitOfWork` that callers pass explicitly,
and :meth:`UnitOfWork.commit` writes them in one place: the trace rows and the outbox rows join
the step's writes (one statement on PostgreSQL, see :mod:`~selinon_django.runtime.store`), and the
messages are published after the transaction commits (:mod:`~selinon_django.runtime.outbox`).

Work that may be undone - an optimistic step that loses its race, a run's first step that raises
- goes into a :meth:`UnitOfWork.fork`: a unit holding a copy of what this one collected so far,
committed instead of it, or dropped, leaving this one as it was.

Trace events come from a process-wide tracer that knows no unit; :func:`~selinon_django.runtime
.tracing.collecting` makes a unit the thread's recipient of them while it is open.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Model

from selinon_django.conf import selinon_settings
from selinon_django.models.outbox import OutboxMessage
from selinon_django.models.tracing import TraceEventRecord
from selinon_django.runtime import outbox
from selinon_django.runtime.outbox import Message
from selinon_django.runtime.store import RunStore
from selinon_django.runtime.writes import Batch

#: the columns of a trace row, in this order (see :mod:`~selinon_django.runtime.tracing`)
TRACE_COLUMNS = ("flow_run_id", "node_run_id", "event", "details", "created_at")


class UnitOfWork:
    """See the module docstring. ``run_id``: the run trace events belong to when they do not
    say; ``traced``: trace events are written as rows (by default when ``TRACE_DATABASE`` says so)."""

    def __init__(self, run_id: str | None = None, *, traced: bool | None = None,
                 store: RunStore | None = None) -> None:
        if traced is None:
            traced = selinon_settings().TRACE_DATABASE
        self.run_id = run_id
        #: rows, updates and the guard (sent by the run store)
        self.writes = Batch(store)
        #: messages to publish once the work is committed
        self.messages: list[Message] = []
        #: trace rows (None: not written)
        self.traces: list[tuple[Any, ...]] | None = [] if traced else None

    def enqueue(self, task_name: str, kwargs: dict[str, Any], *, recorded: bool = False, **options: Any) -> Message:
        """A message to publish after the commit.

        ``recorded``: the unit writes a row from which the sweeper can resend this message (a
        node-run row ``sent``, a run pending), so it needs no outbox row of its own.
        """
        message = Message(task_name, kwargs, outbox.set_options(options), recorded)
        self.messages.append(message)
        return message

    def fork(self) -> UnitOfWork:
        """A unit holding a copy of this one's messages and traces, and writes of its own (this
        one must have none waiting): committed instead of this one, or dropped."""
        if self.writes.statements:
            raise ValueError("a unit with writes waiting cannot be forked")
        fork = UnitOfWork(self.run_id, traced=self.traces is not None, store=self.writes.store)
        fork.messages = list(self.messages)
        fork.traces = None if self.traces is None else list(self.traces)
        return fork

    def write_traces(self) -> None:
        """Add the trace rows collected so far to the writes."""
        records, self.traces = self.traces, ([] if self.traces is not None else None)
        if records:
            self.writes.insert_rows(TraceEventRecord, TRACE_COLUMNS, records)

    def commit(self, using: str | None = None) -> int:
        """Write everything and publish the messages after the transaction commits (outside a
        transaction: at once); returns the number of messages. Must run inside the transaction
        that made the state change, or be that transaction (one guarded statement)."""
        self.write_traces()
        messages, self.messages = self.messages, []
        rows = [outbox.row(m) for m in messages if not m.recorded]
        ids = self._execute(rows)
        if messages:
            transaction.on_commit(lambda: outbox.publish_rows(messages, ids, using=using), using=using)
        return len(messages)

    def _execute(self, rows: Sequence[Model]) -> list[Any]:
        if rows:
            return self.writes.execute(returning=(OutboxMessage, rows))
        self.writes.execute()
        return []
