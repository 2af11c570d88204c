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

from django.db.models import Func, JSONField
from django.utils import timezone

from selinon_django.conf import selinon_settings
from selinon_django.models.runs import FLOW_FINISHED_STATUSES, FlowRun
from selinon_django.runtime import outbox
from selinon_django.runtime.messages import DISPATCHER_TASK, dispatcher_kwargs

PENDING = datetime(2000, 1, 1, tzinfo=UTC)


class StateIfSmall(Func):
    """The row's ``state`` when it has at most ``limit`` active nodes, else NULL: a run small
    enough for an inline step is read whole in the same query that locks it, a big one costs no
    transfer of its state."""

    output_field = JSONField()

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = int(limit)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        table = compiler.quote_name_unless_alias(FlowRun._meta.db_table)
        return (f"CASE WHEN jsonb_array_length({table}.state->'active_nodes') <= %s THEN {table}.state END",
                [self.limit])

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        table = compiler.quote_name_unless_alias(FlowRun._meta.db_table)
        return (f"CASE WHEN json_array_length({table}.state, '$.active_nodes') <= %s THEN {table}.state END",
                [self.limit])

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:
        return "NULL", []


def wake(run_id: str, *, reason: str = "node finished", finished: dict[str, str] | None = None) -> None:
    """Make sure a step of ``run_id`` starts after the current transaction commits.

    ``finished`` - node ids and the final statuses this transaction wrote (an inline step need
    not read them back).
    """
    settings = selinon_settings()
    inline = settings.INLINE_STEPS
    rows = FlowRun.objects.locked().filter(pk=run_id).defer("state")
    if inline:
        rows = rows.annotate(small_state=StateIfSmall(settings.INLINE_STEP_MAX_ACTIVE))
    run = rows.first()
    if run is None or run.status in FLOW_FINISHED_STATUSES or run.next_wakeup_at == PENDING:
        return
    small_state = getattr(run, "small_state", None)
    if inline and small_state is not None:
        from selinon_django.runtime.dispatcher import step_locked

        run.state = small_state
        step_locked(run, known_statuses=finished)
        return
    mark_pending(run_id, run.flow_name, run.revision_id, run.state_version, reason=reason)


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
