"""How a flow run is woken: at once when one of its nodes finishes, coalesced under load.

``FlowRun.next_wakeup_at`` doubles as the "a wake-up is pending" flag:

- :data:`PENDING` (a fixed instant in the past) means a dispatcher message has been published
  and the step it causes has not started yet; ``updated_at`` says since when;
- a real time is the sampling strategy's safety net (the sweeper fires it when due);
- None: nothing scheduled (finished runs).

:func:`wake` is called inside the transaction that records a node's final status (or a sub-flow's
end). It locks the flow-run row first, which orders it against steps: a step in progress holds
the lock, so the waker waits until the step committed and then sees that no wake-up is pending.
If one *is* pending, the step that will serve it has not started (steps run under the same lock
and clear the flag), so it will see this transaction's writes: nothing more to do. Otherwise
the waker either runs the step itself, in its own transaction (``INLINE_STEPS``, small flows:
the next task is published one hop sooner), or marks the run pending and enqueues one
dispatcher message. Under a fan-in of thousands of tasks this sends a handful of messages, not
one per task: a run too big for inline steps is woken after a short countdown that grows with
its active nodes (:func:`coalesce_countdown`), so the tasks finishing meanwhile share one step.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Func, IntegerField, JSONField, Model, QuerySet
from django.utils import timezone

from selinon_django.conf import selinon_settings
from selinon_django.models.runs import FLOW_UNFINISHED_STATUSES, FlowRun
from selinon_django.runtime import outbox
from selinon_django.runtime.configs import config_for
from selinon_django.runtime.messages import DISPATCHER_TASK, dispatcher_kwargs
from selinon_django.runtime.store import run_store
from selinon_django.runtime.unit_of_work import UnitOfWork
from selinon_django.runtime.writes import Batch

PENDING = datetime(2000, 1, 1, tzinfo=UTC)


class _WhenNotPending(Func):
    """SQL over the row's ``state`` computed only when no wake-up is pending (a pending run is
    left alone, so its state - megabytes for a big foreach - is not even read)."""

    def __init__(self, limit: int | None, output_field: Any) -> None:
        super().__init__(output_field=output_field)
        self.limit = limit

    def _sql(self, compiler: Any, connection: Any, length: str) -> Any:
        table = compiler.quote_name_unless_alias(FlowRun._meta.db_table)
        pending = connection.ops.adapt_datetimefield_value(PENDING)
        not_pending = f"{table}.next_wakeup_at IS NULL OR {table}.next_wakeup_at <> %s"
        if self.limit is None:  # the number of active nodes
            return f"CASE WHEN {not_pending} THEN {length.format(table=table)} END", [pending]
        return (f"CASE WHEN ({not_pending}) AND {length.format(table=table)} <= %s THEN {table}.state END",
                [pending, self.limit])

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self._sql(compiler, connection, "jsonb_array_length({table}.state->'active_nodes')")

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self._sql(compiler, connection, "json_array_length({table}.state, '$.active_nodes')")

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:
        # other databases: unknown, so a wake-up always goes as a message
        return "NULL", []


def active_count() -> Func:
    """``len(state["active_nodes"])`` by the database (NULL when a wake-up is pending)."""
    return _WhenNotPending(None, IntegerField())


def state_if_small(limit: int) -> Func:
    """The ``state`` of a run with at most ``limit`` active nodes and no pending wake-up, else
    NULL: such a run is read whole by the query that locks it, for an inline step."""
    return _WhenNotPending(limit, JSONField())


#: seconds a wake-up of a run with ``n`` active nodes waits, per active node (capped by
#: :data:`COALESCE_MAX`): a big fan-in's finishing tasks then share a step instead of each
#: paying for one (a step costs time in proportion to the active nodes); runs small enough for
#: inline steps never wait
COALESCE_PER_NODE = 0.0005
COALESCE_MAX = 1.0


def coalesce_countdown(active: int | None) -> float | None:
    if not active:
        return None
    return min(COALESCE_MAX, active * COALESCE_PER_NODE)


def wake_rows(run_id: str) -> QuerySet[FlowRun]:
    """The run's row, locked, with what :func:`~selinon_django.runtime.dispatcher.wake` decides on
    (not its whole state)."""
    settings = selinon_settings()
    rows = FlowRun.objects.locked().filter(pk=run_id).defer("state").annotate(active_count=active_count())
    if settings.INLINE_STEPS:
        rows = rows.annotate(small_state=state_if_small(settings.INLINE_STEP_MAX_ACTIVE))
    return rows


def mark_pending(unit: UnitOfWork, run_id: str, flow_name: str, revision_id: int, state_version: int, *,
                 reason: str, countdown: float | None = None) -> None:
    """Flag the run as woken and put its dispatcher message in ``unit`` (row must be locked)."""
    FlowRun.objects.filter(pk=run_id).update(next_wakeup_at=PENDING, updated_at=timezone.now())
    queue = config_for(revision_id).dispatcher_queue(flow_name)
    unit.enqueue(
        DISPATCHER_TASK,
        dispatcher_kwargs(run_id, flow_name, state_version=state_version, reason=reason),
        queue=queue,
        countdown=countdown,
        recorded=True,  # next_wakeup_at = PENDING: the sweeper wakes the run if it goes unanswered
    )


def schedule(countdown: float) -> tuple[datetime | None, bool]:
    """``(next_wakeup_at, send a countdown message too)`` for a look in ``countdown`` seconds.

    Short countdowns go as countdown messages as well (a broker holds them precisely); long
    ones only as ``next_wakeup_at`` for the sweeper, because Redis redelivers countdown messages
    held longer than its visibility timeout.
    """
    limit = selinon_settings().COUNTDOWN_MESSAGE_LIMIT
    return timezone.now() + timedelta(seconds=max(0.0, countdown)), countdown <= limit


def finish_fan_in(node_update: tuple[type[Model], dict[str, Any], str, Sequence[Any]], run_id: str,
                  batch: Batch) -> bool:
    """A task of a big run (a foreach fanning in) ends without a transaction: one statement
    records it (``node_update``: model, values, where, params) with ``batch``'s writes and marks
    the run pending if nothing else did, under the run's row lock for the statement's duration (a
    step in progress is waited for and its outcome seen); the dispatcher message follows
    (recorded by the pending mark). Returns whether the node's row changed (False: a duplicate,
    nothing written but ``batch``); stores that combine writes only.
    """
    unfinished = [str(status) for status in FLOW_UNFINISHED_STATUSES]
    fan_in = run_store().record_fan_in(batch, node_update, run_id, pending=PENDING, unfinished=unfinished,
                                       now=timezone.now())
    if fan_in.marked and fan_in.revision_id is not None and fan_in.flow_name is not None:
        queue = config_for(fan_in.revision_id).dispatcher_queue(fan_in.flow_name)
        outbox.publish_recorded(
            DISPATCHER_TASK,
            dispatcher_kwargs(run_id, fan_in.flow_name, state_version=fan_in.state_version or 0,
                              reason="node finished"),
            queue=queue, countdown=coalesce_countdown(fan_in.active),
        )
    return fan_in.changed
