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
one per task.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Func, IntegerField
from django.utils import timezone

from selinon_django.conf import selinon_settings
from selinon_django.models.runs import FLOW_FINISHED_STATUSES, FlowRun
from selinon_django.runtime import outbox
from selinon_django.runtime.messages import DISPATCHER_TASK, dispatcher_kwargs

PENDING = datetime(2000, 1, 1, tzinfo=UTC)


class ActiveCount(Func):
    """``len(state["active_nodes"])`` computed by the database (the state can be large)."""

    output_field = IntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        table = compiler.quote_name_unless_alias(FlowRun._meta.db_table)
        return f"jsonb_array_length({table}.state->'active_nodes')", []

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        table = compiler.quote_name_unless_alias(FlowRun._meta.db_table)
        return f"json_array_length({table}.state, '$.active_nodes')", []

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:
        # other databases: unknown, so a wake-up always goes as a message
        return "NULL", []


def wake(run_id: str, *, reason: str = "node finished") -> None:
    """Make sure a step of ``run_id`` starts after the current transaction commits."""
    settings = selinon_settings()
    row = (
        FlowRun.objects.locked()
        .filter(pk=run_id)
        .annotate(active_count=ActiveCount())
        .values("flow_name", "status", "next_wakeup_at", "state_version", "revision_id", "active_count")
        .first()
    )
    if row is None or row["status"] in FLOW_FINISHED_STATUSES or row["next_wakeup_at"] == PENDING:
        return
    active = row["active_count"]
    if settings.INLINE_STEPS and active is not None and active <= settings.INLINE_STEP_MAX_ACTIVE:
        from selinon_django.runtime.dispatcher import step_locked

        run = FlowRun.objects.locked().get(pk=run_id)
        step_locked(run)
        return
    mark_pending(run_id, row["flow_name"], row["revision_id"], row["state_version"], reason=reason)


def mark_pending(run_id: str, flow_name: str, revision_id: int, state_version: int, *, reason: str,
                 countdown: float | None = None) -> None:
    """Flag the run as woken and enqueue its dispatcher message (row must be locked)."""
    from selinon_django.runtime.configs import config_for

    FlowRun.objects.filter(pk=run_id).update(next_wakeup_at=PENDING, updated_at=timezone.now())
    queue = config_for(revision_id).dispatcher_queue(flow_name)
    outbox.enqueue(
        DISPATCHER_TASK,
        dispatcher_kwargs(run_id, flow_name, state_version=state_version, reason=reason),
        queue=queue,
        countdown=countdown,
    )


def schedule(countdown: float) -> tuple[datetime | None, bool]:
    """``(next_wakeup_at, send a countdown message too)`` for a look in ``countdown`` seconds.

    Short countdowns go as countdown messages as well (a broker holds them precisely); long
    ones only as ``next_wakeup_at`` for the sweeper, because Redis redelivers countdown messages
    held longer than its visibility timeout.
    """
    limit = selinon_settings().COUNTDOWN_MESSAGE_LIMIT
    return timezone.now() + timedelta(seconds=max(0.0, countdown)), countdown <= limit
