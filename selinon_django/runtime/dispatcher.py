"""One dispatcher step of a flow run, in one transaction, with every decision recorded.

:func:`handle_message` serves a dispatcher message: it locks the flow-run row, and unless the
run is finished or the message is a stale duplicate, runs :func:`step_locked`. That function
(also called inline by :mod:`.wakeups`) runs the pure engine step with
:class:`~selinon_django.runtime.ports.DatabasePorts` and applies its actions:

- node-run rows for started tasks and sub-flows (a sub-flow also gets its flow-run row), with
  ``bulk_create``, and their messages in the outbox;
- the new state, ``state_version + 1``, the sampling safety net in ``next_wakeup_at``;
- on the end of the run: status, result, the parent's node-run row and a wake-up of the parent,
  and the outcome in Celery's result backend under the run id (``AsyncResult(id).get()``).

The caller commits; the outbox publishes after the commit.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from selinon_django.conf import selinon_settings
from selinon_django.config.model import thaw
from selinon_django.engine.actions import FailFlow, FinishFlow, Reschedule, RetryFlow, ReuseTask, StartFlow, StartTask
from selinon_django.engine.dispatcher import StepResult, step
from selinon_django.engine.state import FlowState
from selinon_django.models.history import RunAttempt
from selinon_django.models.runs import (
    FLOW_FINISHED_STATUSES,
    FlowRun,
    FlowRunStatus,
    NodeRun,
    NodeRunStatus,
    empty_state,
)
from selinon_django.runtime import messages, migrating, tracing
from selinon_django.runtime.configs import config_for
from selinon_django.runtime.continuations import (
    Continuation,
    batch_item,
    may_share_a_message,
    tasks_per_message,
)
from selinon_django.runtime.messages import DISPATCHER_TASK, dispatcher_kwargs
from selinon_django.runtime.ports import DatabasePorts, NeedsLock
from selinon_django.runtime.results import announce_outcome
from selinon_django.runtime.store import run_store
from selinon_django.runtime.trace_context import child_context
from selinon_django.runtime.unit_of_work import UnitOfWork
from selinon_django.runtime.wakeups import PENDING, coalesce_countdown, mark_pending, schedule, wake_rows
from selinon_django.storages.pool import StoragePool
from selinon_django.trace.events import Trace

logger = logging.getLogger(__name__)

#: extra keys kept in the row's state next to Selinon's five
RETRY_KEY = "retry"
NODE_ARGS_KEY = "node_args"


def handle_message(run_id: str, *, state_version: int | None = None, reason: str = "wakeup") -> None:
    """Serve one dispatcher message (the Celery task calls this)."""
    with transaction.atomic():
        run = FlowRun.objects.locked().filter(pk=run_id).first()
        if run is None:
            logger.info("dispatcher message for unknown run %s ignored", run_id)
            return
        if run.is_finished:
            return
        if (
            state_version is not None
            and run.state_version > state_version
            and run.next_wakeup_at != PENDING
            and run.status != FlowRunStatus.PENDING
        ):
            # A step newer than this message already ran and nothing asked for another one.
            return
        step_locked(run)


def step_locked(run: FlowRun, *, known_statuses: dict[str, str] | None = None,
                unit: UnitOfWork | None = None, new: bool = False) -> StepResult:
    """Run one step of a run whose row the current transaction holds locked.

    ``known_statuses``: final statuses of nodes the caller's transaction just wrote. ``unit``:
    the caller's, which the caller commits; without one the step commits its own.
    ``new``: the run's row is not written yet - the step inserts it, as the step left it, with
    its first nodes (a run's start in one statement; nobody can see the run before).
    """
    own = unit is None
    if unit is None:
        unit = UnitOfWork(run.pk)
    with tracing.collecting(unit):
        if (held := migrating.before_step(run, unit)) is not None:
            result = held  # put back (migration skew) or failed by a migration: see runtime/migrating.py
            if isinstance(held.outcome, FailFlow):
                finish_run_side_effects(run, unit)
        else:
            try:
                result, node_args, pool = _engine_step(run, known_statuses, unlocked=False)
            except Exception:
                logger.exception("dispatcher step of %s %s raised", run.flow_name, run.pk)
                raise
            _trace(pool, result)
            _apply(run, result, unit, node_args_before=node_args, insert_run=new)
    if own:
        unit.commit()
    return result


def step_optimistic(run: FlowRun, *, known_statuses: dict[str, str], unit: UnitOfWork,
                    continuation: Continuation | None = None) -> StepResult | None:
    """A step computed from an *unlocked* snapshot of the run, its writes put in ``unit``
    guarded by the snapshot's ``state_version`` (:meth:`~.writes.Batch.update_where`).

    This is a chain's hop without a transaction: the finishing task's envelope read the row
    when it claimed its node, and if no other step ran since, one statement records the node's
    end and this step. When another step did run, the statement writes nothing and the caller
    takes the locked path. Returns None - nothing added to ``unit`` - for the steps that need
    the lock anyway: a sub-flow's end (its parent's node row is updated and the parent woken
    in the same transaction), a retry of the flow, migrations, throttling and rate limits
    (their slots are reserved under row locks). A root run's end is fine: the caller calls
    :func:`~selinon_django.runtime.results.announce_outcome` once the unit is committed.

    ``continuation``: the caller may run one started task itself (see
    :mod:`~selinon_django.runtime.continuations`); the one it accepts is written ``started``
    instead of being published.
    """
    if not migrating.may_step_unlocked(run):
        return None
    try:
        result, node_args, pool = _engine_step(run, known_statuses, unlocked=True)
    except NeedsLock:
        return None
    ends = isinstance(result.outcome, (FinishFlow, FailFlow))
    if not (isinstance(result.outcome, Reschedule) or (ends and run.parent_run_id is None)):
        return None  # a sub-flow's end updates and wakes its parent under the parent's lock
    tasks = config_for(run.revision_id).tasks
    if any(isinstance(start, StartTask) and tasks[start.name].rate_limit for start in result.starts):
        return None
    with tracing.collecting(unit):
        _trace(pool, result)
    _apply(run, result, unit, node_args_before=node_args, guarded=True, continuation=continuation)
    return result


def _engine_step(run: FlowRun, known_statuses: dict[str, str] | None, *,
                 unlocked: bool) -> tuple[StepResult, Any, StoragePool]:
    """The pure engine's step of ``run`` with ports reading its rows: ``(result, the node_args
    the step started from, the revision's storage pool)``. Nothing is written or traced yet."""
    config = config_for(run.revision_id)
    pool = StoragePool.for_config(config)
    raw_state = run.state or {}
    first = run.status in (FlowRunStatus.PENDING, FlowRunStatus.RETRYING)
    state = FlowState.from_dict(raw_state)
    node_args = raw_state.get(NODE_ARGS_KEY, run.node_args)
    ports = DatabasePorts(config, pool, run, state.active_nodes, known_statuses, unlocked=unlocked)
    result = step(
        config, run.flow_name, None if first else state, node_args=node_args, parent=run.parent, ports=ports,
        selective=run.selective, retried_count=run.retried_count, previous_retry=raw_state.get(RETRY_KEY),
        dispatcher_id=run.pk,
    )
    return result, node_args, pool


def _trace(pool: StoragePool, result: StepResult) -> None:
    for event in result.traces:
        pool.tracer.trace(Trace.str2event(event.event), dict(event.details))


def _apply(run: FlowRun, result: StepResult, unit: UnitOfWork, *, node_args_before: Any,
           guarded: bool = False, continuation: Continuation | None = None, insert_run: bool = False) -> None:
    batch = unit.writes
    config = config_for(run.revision_id)
    now = timezone.now()
    node_rows: list[NodeRun] = []
    child_runs: list[FlowRun] = []
    # task messages and their options; the shareable ones may go several to a message
    shareable: list[tuple[messages.TaskMessage, messages.CeleryOptions]] = []
    alone: list[tuple[messages.TaskMessage, messages.CeleryOptions]] = []
    root_id = run.root_run_id or run.pk
    for start in result.starts:
        if isinstance(start, ReuseTask):
            continue  # an earlier task's row already holds that result
        if isinstance(start, StartTask):
            task = config.tasks[start.name]
            parent = _plain(start.parent)
            node = NodeRun(
                id=start.id, flow_run_id=run.pk, name=start.name, kind=NodeRun.Kind.TASK,
                status=NodeRunStatus.SENT, parent=parent, node_args=start.node_args,
                is_fallback=start.fallback, is_nowait=start.nowait, countdown=start.countdown,
                created_at=now, sent_at=now,
            )
            node_rows.append(node)
            message = messages.TaskMessage(
                node_id=start.id, flow_name=run.flow_name, task_name=start.name, parent=parent,
                node_args=start.node_args, dispatcher_id=run.pk, revision_id=run.revision_id,
            )
            options = message.options(config, countdown=start.countdown)
            node.countdown = options.countdown  # (its rate-limit delay included: the sweeper waits for it)
            task_options = options.as_dict()
            if continuation is not None and continuation.accepts(task, task_options):
                # run by the caller right after this step's statement, which writes it started
                node.status, node.attempts, node.worker = NodeRunStatus.STARTED, 1, continuation.hostname[:255]
                node.received_at = node.started_at = now
                node.carried_by = continuation.carrier
                continuation.take(start.id, message.kwargs())
                continue
            (shareable if may_share_a_message(task, task_options) else alone).append((message, options))
        elif isinstance(start, StartFlow):
            node_rows.append(
                NodeRun(
                    id=start.id, flow_run_id=run.pk, name=start.name, kind=NodeRun.Kind.FLOW,
                    status=NodeRunStatus.SENT, parent=_plain(start.parent), node_args=start.node_args,
                    is_fallback=start.fallback, is_nowait=start.nowait, countdown=start.countdown,
                    created_at=now, sent_at=now,
                )
            )
            child_runs.append(
                FlowRun(
                    id=start.id, flow_name=start.name, revision_id=run.revision_id, parent_run_id=run.pk,
                    root_run_id=root_id, parent_node_id=start.id, node_args=start.node_args,
                    parent=_plain(start.parent), selective=_plain(start.selective),
                    status=FlowRunStatus.PENDING, created_at=now, next_wakeup_at=PENDING,
                    migration_version=run.migration_version,
                    trace_context=child_context(run.trace_context, run.pk) if run.trace_context else None,
                )
            )
            unit.enqueue(
                DISPATCHER_TASK,
                dispatcher_kwargs(
                    start.id, start.name, reason="start",
                    full={"node_args": start.node_args, "parent": _plain(start.parent),
                          "selective": _plain(start.selective) or False, "retried_count": 0, "retry": None,
                          "migration_version": run.migration_version, "state": None},
                ),
                queue=config.dispatcher_queue(start.name),
                countdown=start.countdown,
                recorded=True,  # the child run's row (pending)
            )
    batch.insert(FlowRun, child_runs)
    batch.insert(NodeRun, node_rows)
    _enqueue_tasks(unit, alone, shareable)

    state = result.state.to_dict()
    if result.node_args != node_args_before or NODE_ARGS_KEY in (run.state or {}):
        state[NODE_ARGS_KEY] = result.node_args
    outcome = result.outcome
    update: dict[str, Any] = {"state_version": run.state_version + 1, "updated_at": now}
    if run.started_at is None:
        update["started_at"] = now
    if isinstance(outcome, Reschedule):
        state[RETRY_KEY] = outcome.countdown
        update.update(status=FlowRunStatus.RUNNING, state=state, next_wakeup_at=schedule(outcome.countdown)[0])
    elif isinstance(outcome, FinishFlow):
        update.update(
            status=FlowRunStatus.SUCCEEDED, state=state, result=_plain(outcome.result), finished_at=now,
            next_wakeup_at=None,
        )
    elif isinstance(outcome, FailFlow):
        update.update(
            status=FlowRunStatus.FAILED, state=_plain(outcome.state), finished_at=now, next_wakeup_at=None,
            error=f"flow failed ({outcome.reason}): {sorted(outcome.failed_nodes)}",
            result={"failed_nodes": _plain(outcome.failed_nodes), "reason": outcome.reason},
        )
    elif isinstance(outcome, RetryFlow):
        # Start again from scratch with the node_args and parent the run was given.
        when, by_message = schedule(outcome.countdown)
        update.update(
            status=FlowRunStatus.RETRYING, state=empty_state(), retried_count=outcome.retried_count,
            next_wakeup_at=PENDING if by_message else when, error=f"attempt failed ({outcome.reason})",
        )
        # the failed try, kept as history (its node runs stay; the next try's are created after ``now``)
        batch.insert(RunAttempt, [RunAttempt.ended(
            run, RunAttempt.Cause.FLOW_RETRY, now, status=FlowRunStatus.FAILED,
            error=f"attempt failed ({outcome.reason})",
            failed_nodes=(outcome.state or {}).get("failed_nodes"))])
        if by_message:
            unit.enqueue(
                DISPATCHER_TASK,
                dispatcher_kwargs(run.pk, run.flow_name, state_version=run.state_version + 1, reason="retry"),
                queue=config.dispatcher_queue(run.flow_name),
                countdown=outcome.countdown or None,
                recorded=True,  # next_wakeup_at = PENDING
            )
    if insert_run:
        for key, value in update.items():
            setattr(run, key, value)
        batch.insert(FlowRun, [run])  # (its nodes' rows refer to it: checked at the statement's end)
    elif guarded:
        batch.update_where(
            FlowRun, update,
            "id = %s AND state_version = %s AND status = %s AND next_wakeup_at IS DISTINCT FROM %s",
            (run.pk, run.state_version, str(run.status), PENDING),
            lambda: FlowRun.objects.none(), guard=True,
        )
    else:
        pk = run.pk
        batch.update_where(FlowRun, update, "id = %s", (pk,), lambda: FlowRun.objects.filter(pk=pk))
    for key, value in update.items():
        setattr(run, key, value)
    if isinstance(outcome, (FinishFlow, FailFlow)):
        if guarded:
            # a root run (see step_optimistic): the caller announces the outcome once the batch
            # is written (after the commit, as announce_outcome does inside a transaction)
            return
        batch.execute()  # the parent's step (woken below, maybe inline) reads this run's row
        finish_run_side_effects(run, unit)


def _enqueue_tasks(unit: UnitOfWork, alone: list[tuple[messages.TaskMessage, messages.CeleryOptions]],
                   shareable: list[tuple[messages.TaskMessage, messages.CeleryOptions]]) -> None:
    """The messages of the tasks a step started (recorded: their node-run rows say ``sent``);
    shareable tasks on one queue go several to a message when there are many of them (see
    :mod:`~selinon_django.runtime.continuations`): the message is its first node's, with that
    node's options (shareable tasks have no per-message options but the queue)."""
    for message, options in alone:
        message.enqueue(unit, options, recorded=True)
    by_queue: dict[Any, list[tuple[messages.TaskMessage, messages.CeleryOptions]]] = {}
    for item in shareable:
        by_queue.setdefault(item[1].queue, []).append(item)
    for started in by_queue.values():
        size = tasks_per_message(len(started))
        for start in range(0, len(started), size):
            (message, options), *carried = started[start:start + size]
            if carried:
                message = replace(message, batch=tuple(
                    batch_item(c_message.node_id, c_message.kwargs()) for c_message, _ in carried))
            message.enqueue(unit, options, recorded=True)


def revoke_unstarted(run: FlowRun) -> int:
    """A failed run's nodes that were sent but never started are revoked (their messages, when
    delivered, are dropped as duplicates of a finished node), so no row stays ``sent`` for ever.

    Only a failed run can leave such nodes (an eager failure ends the run while its siblings
    wait in the broker); a succeeded run waited for every node it started. Nodes started with
    ``nowait`` are not the run's to stop: they run after it, as in Selinon.
    """
    if run.status != FlowRunStatus.FAILED:
        return 0
    flow = config_for(run.revision_id).flows.get(run.flow_name)
    nowait = sorted(flow.nowait) if flow is not None else []
    now = timezone.now()
    unstarted = NodeRun.objects.filter(
        flow_run_id=run.pk, status__in=(NodeRunStatus.PENDING, NodeRunStatus.SENT)
    ).exclude(name__in=nowait)
    return unstarted.update(status=NodeRunStatus.REVOKED, finished_at=now, updated_at=now)


def finish_run_side_effects(run: FlowRun, unit: UnitOfWork) -> None:
    """A run ended: mark its node in the parent, wake the parent (its messages in ``unit``),
    store the Celery result."""
    revoke_unstarted(run)
    node_status = NodeRunStatus.SUCCEEDED if run.status == FlowRunStatus.SUCCEEDED else NodeRunStatus.FAILED
    if run.status == FlowRunStatus.REVOKED:
        node_status = NodeRunStatus.REVOKED
    if run.parent_run_id is not None:
        NodeRun.objects.filter(pk=run.parent_node_id or run.pk).update(
            status=node_status, finished_at=run.finished_at, result=run.result if node_status != "succeeded" else None,
        )
        wake(run.parent_run_id, unit, reason="sub-flow finished")
    announce_outcome(run)


def wake(run_id: str, unit: UnitOfWork, *, reason: str = "node finished",
         finished: dict[str, str] | None = None) -> None:
    """Make sure a step of ``run_id`` starts after the current transaction commits.

    ``unit`` - the caller's unit of work, for the dispatcher message or an inline step's writes;
    ``finished`` - node ids and the final statuses this transaction wrote (an inline step need
    not read them back).
    """
    _wake_locked(wake_rows(run_id).first(), unit, reason=reason, finished=finished)


def finish_and_wake(node_rows: QuerySet[Any], values: dict[str, Any], run_id: str, unit: UnitOfWork, *,
                    finished: dict[str, str]) -> bool:
    """``node_rows.update(**values)`` and, if it changed a row, :func:`wake` - on PostgreSQL in
    one statement (the store's :meth:`~selinon_django.runtime.store.RunStore.finish_node_and_lock_run`).
    Returns whether the update changed a row."""
    changed, run = run_store().finish_node_and_lock_run(node_rows, values, wake_rows(run_id))
    if not changed:
        return False
    _wake_locked(run, unit, reason="node finished", finished=finished)
    return True


def _wake_locked(run: FlowRun | None, unit: UnitOfWork, *, reason: str, finished: dict[str, str] | None) -> None:
    if run is None or run.status in FLOW_FINISHED_STATUSES or run.next_wakeup_at == PENDING:
        return
    settings = selinon_settings()
    inline = settings.INLINE_STEPS
    small_state = getattr(run, "small_state", None)
    if inline and small_state is not None:
        run.state = small_state
        step_locked(run, known_statuses=finished, unit=unit)
        return
    countdown = None
    active = getattr(run, "active_count", None) or 0
    if run.status == FlowRunStatus.RUNNING and (not inline or active > settings.INLINE_STEP_MAX_ACTIVE):
        countdown = coalesce_countdown(active)
    mark_pending(unit, run.pk, run.flow_name, run.revision_id, run.state_version, reason=reason, countdown=countdown)


def _plain(value: Any) -> Any:
    """Frozen mappings/tuples from the engine as plain JSON data."""
    return thaw(value) if value is not None else None
