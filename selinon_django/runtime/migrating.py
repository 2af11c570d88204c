"""Migrating runs in flight: the runtime side of "Migrations - Redeployment with changes".

A run is pinned to the revision it started on. When a newer revision is current, the dispatcher
step first calls :func:`before_step` with the locked run row, which does one of:

- nothing, when ``SELINON_DJANGO['MIGRATION_POLICY']`` says ``"pin"`` for the flow (the
  default: the run finishes on its own graph, like Selinon's versioned flows);
- for ``"migrate"``: carry the run's state through the stored migrations after its
  ``migration_version`` (:func:`~selinon_django.engine.migrations.apply_migrations`, one version
  at a time), move the run to the revision the chain ends on, and trace ``MIGRATION``. A tainted
  run is traced (``MIGRATION_TAINTED_FLOW``) and then follows the strongest strategy of the
  chain: IGNORE goes on, RETRY starts the flow again from scratch on the new graph, FAIL fails it
  (nodes already running keep running, as the documentation says);
- put the message back (``MIGRATION_SKEW``) when the run's ``migration_version`` is newer than
  every migration this worker can read: the step is not taken, the run is looked at again after
  :data:`SKEW_COUNTDOWN` seconds, and nothing counts as a retry of the flow.

A chain is only applied where it connects to the run (planned by
:func:`~selinon_django.engine.migration_plan.plan_flow`, the plan the admin's revision diff shows):
the first migration must have been computed from a graph identical (edges' ``from``/``to``) to
the one the run is on, and each next one from where the previous one ended. A run whose graph
changed without a migration stays where it is and ``MIGRATION_ERROR`` says why, because guessing
would point its state at wrong edges.
When the current revision has the same graph for the flow as where the chain ends (a change of
conditions or task options only needs no migration), the run moves to the current revision.
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from django.utils import timezone

from selinon_django.conf import selinon_settings
from selinon_django.engine.actions import FailFlow, Reschedule
from selinon_django.engine.dispatcher import StepResult
from selinon_django.engine.migration_plan import FlowPlan, RevisionRef, StoredMigration, plan_flow
from selinon_django.engine.migrations import MigrationOutcome, TaintedFlowStrategy, apply_migrations
from selinon_django.engine.state import FlowState
from selinon_django.models.definitions import ConfigRevision
from selinon_django.models.migrations import FlowMigrationRecord, link_by_hash
from selinon_django.models.runs import FLOW_FINISHED_STATUSES, FlowRun, FlowRunStatus, empty_state
from selinon_django.runtime import tracing
from selinon_django.runtime.configs import config_for
from selinon_django.runtime.messages import DISPATCHER_TASK, dispatcher_kwargs
from selinon_django.runtime.unit_of_work import UnitOfWork
from selinon_django.storages.pool import StoragePool
from selinon_django.trace.events import Trace

logger = logging.getLogger(__name__)

#: seconds before a run held back by a migration skew is looked at again
SKEW_COUNTDOWN = 10.0

PIN = "pin"
MIGRATE = "migrate"


def policy_for(flow_name: str) -> str:
    """``"pin"`` or ``"migrate"`` for a flow: its own entry, else ``"*"``, else pin."""
    policy = selinon_settings().MIGRATION_POLICY or {}
    return str(policy.get(flow_name, policy.get("*", PIN)))


class _Known:
    """The migrations this process has read, refreshed incrementally (rows are append-only)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_version: dict[int, StoredMigration] = {}

    @property
    def latest(self) -> int:
        return max(self.by_version, default=0)

    def refresh(self) -> int:
        """Read rows newer than the newest known; returns the newest version known now."""
        with self.lock:
            after = self.latest
        fresh = FlowMigrationRecord.objects.after(after).stored()
        with self.lock:
            for known in fresh:
                self.by_version[known.version] = known
            return self.latest

    def clear(self) -> None:
        with self.lock:
            self.by_version.clear()

    def snapshot(self) -> list[StoredMigration]:
        with self.lock:
            return [self.by_version[version] for version in sorted(self.by_version)]


_known = _Known()


def forget_known_migrations() -> None:
    """Drop this process's cache of migration rows (tests; a database that was emptied)."""
    _known.clear()


def latest_known_version(*, refresh: bool = True) -> int:
    """The newest migration version this worker can apply (0: none)."""
    return _known.refresh() if refresh else _known.latest


def before_step(run: FlowRun, unit: UnitOfWork) -> StepResult | None:
    """Called first in a dispatcher step with the run's row locked.

    Returns None when the step should go on (the run may now be on a newer revision with a
    migrated state, or restarting from scratch), or the result of a step that must not run:
    the run was put back because of a migration skew, or failed because a migration tainted it
    (a ``FailFlow`` outcome: its row says failed, and the caller ends the run).
    What it writes besides the run's row (messages, trace rows) goes into ``unit``.
    """
    if run.status in FLOW_FINISHED_STATUSES:
        return None
    latest = _known.latest
    if run.migration_version > latest:
        latest = _known.refresh()
        if run.migration_version > latest:
            return _put_back(run, latest, unit)
    if policy_for(run.flow_name) != MIGRATE:
        return None
    return _migrate(run, unit)


def may_step_unlocked(run: FlowRun) -> bool:
    """Whether :func:`before_step` would let a step go on without writing anything: runs under
    the ``migrate`` policy (which may rewrite the state) and runs ahead of this process's
    known migrations (put back) need the locked step."""
    return run.migration_version <= _known.latest and policy_for(run.flow_name) != MIGRATE


def _plan(run: FlowRun, current: RevisionRef, start: RevisionRef) -> FlowPlan:
    """The run's way through the stored migrations, linked by hash now (revisions load later)."""
    known = link_by_hash([m for m in _known.snapshot() if m.version > run.migration_version])
    return plan_flow(run.flow_name, start, run.migration_version, known, current, config_for)


def _migrate(run: FlowRun, unit: UnitOfWork) -> StepResult | None:
    current = ConfigRevision.objects.order_by("-number").values_list("id", "number", "content_hash", "created_at")
    newest = current.first()
    if newest is None:
        return None
    goal = RevisionRef(*newest)
    _known.refresh()
    if goal.id == run.revision_id and run.migration_version >= _known.latest:
        return None
    row = ConfigRevision.objects.values_list("id", "number", "content_hash", "created_at").get(pk=run.revision_id)
    start = RevisionRef(*row)
    if start.number >= goal.number:
        return None
    plan = _plan(run, goal, start)
    if plan.stop is not None:
        _trace(run, unit, Trace.MIGRATION_ERROR, {"what": plan.problem, "migration_version": run.migration_version})
        logger.warning("run %s of %s not migrated: %s", run.pk, run.flow_name, plan.problem)
    if not plan.chain and plan.target.id == run.revision_id:
        return None
    outcome = apply_migrations(
        run.state or empty_state(), run.flow_name, plan.base, [k.migration for k in plan.chain]
    )
    return _record(run, outcome, plan, unit)


def _record(run: FlowRun, outcome: MigrationOutcome, plan: FlowPlan, unit: UnitOfWork) -> StepResult | None:
    from_number = run.revision.number
    old_version = run.migration_version
    update: dict[str, Any] = {
        "revision_id": plan.target.id,
        "migration_version": max(outcome.version, old_version),
        "state": outcome.new_state,
        "updated_at": timezone.now(),
    }
    for key, value in update.items():
        setattr(run, key, value)
    details = {
        "migration_version": old_version,
        "latest_migration_version": run.migration_version,
        "from_revision": from_number,
        "to_revision": run.revision.number,
        "tainted": outcome.tainted,
        "tainted_flow_strategy": outcome.strategy.value,
        "steps": [step.to_dict() for step in outcome.steps],
    }
    events: list[tuple[int, dict[str, Any]]] = [(Trace.MIGRATION, details)]
    result: StepResult | None = None
    if outcome.tainted:
        events.append(
            (
                Trace.MIGRATION_TAINTED_FLOW,
                {
                    "tainted_flow_strategy": outcome.strategy.value,
                    "migration_version": run.migration_version,
                    "tainted_edges": _merged(outcome, "tainted_edges"),
                    "tainting_nodes": _merged(outcome, "tainting_nodes"),
                },
            )
        )
        if outcome.strategy is TaintedFlowStrategy.RETRY:
            # Start again from scratch on the new graph: the step that follows is a first step.
            update.update(state=empty_state(), status=FlowRunStatus.RETRYING,
                          error=f"tainted by migration {run.migration_version}: started again")
            run.state, run.status, run.error = update["state"], update["status"], update["error"]
        elif outcome.strategy is TaintedFlowStrategy.FAIL:
            result = _fail(run, outcome, update)
    FlowRun.objects.filter(pk=run.pk).update(**update)
    for event, event_details in events:
        _trace(run, unit, event, event_details)
    return result  # (a run failed here is ended by the dispatcher step, which tells its parent)


def _fail(run: FlowRun, outcome: MigrationOutcome, update: dict[str, Any]) -> StepResult:
    now = timezone.now()
    failed_nodes = dict(outcome.new_state.get("failed_nodes") or {})
    update.update(
        status=FlowRunStatus.FAILED,
        finished_at=now,
        next_wakeup_at=None,
        state_version=run.state_version + 1,
        error=f"flow failed (tainted by migration {run.migration_version}, strategy FAIL)",
        result={"failed_nodes": failed_nodes, "reason": "migration", "migration_version": run.migration_version},
    )
    for key, value in update.items():
        setattr(run, key, value)
    state = FlowState.from_dict(outcome.new_state)
    return StepResult(
        state=state,
        node_args=run.node_args,
        starts=(),
        outcome=FailFlow(state=outcome.new_state, reason="migration", failed_nodes=failed_nodes),
        traces=(),
    )


def _merged(outcome: MigrationOutcome, key: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for step in outcome.steps:
        for index, value in step.to_dict()[key].items():
            merged[f"{step.version}:{index}"] = value
    return merged


def _put_back(run: FlowRun, latest: int, unit: UnitOfWork) -> StepResult:
    """Hold the run until a worker that knows its migration version serves it."""

    countdown = SKEW_COUNTDOWN
    logger.warning(
        "run %s of %s has migration version %d, newer than %d known here: put back for %.0f s",
        run.pk, run.flow_name, run.migration_version, latest, countdown,
    )
    # The sweeper's safety net too, in case the countdown message is lost; neither the state
    # version nor the retry count changes: this is not a step and not a retry.
    FlowRun.objects.filter(pk=run.pk).update(next_wakeup_at=timezone.now() + timedelta(seconds=countdown))
    unit.enqueue(
        DISPATCHER_TASK,
        dispatcher_kwargs(run.pk, run.flow_name, state_version=run.state_version, reason="migration skew"),
        queue=config_for(run.revision_id).dispatcher_queue(run.flow_name),
        countdown=countdown,
    )
    _trace(
        run, unit,
        Trace.MIGRATION_SKEW,
        {"migration_version": run.migration_version, "latest_migration_version": latest, "countdown": countdown},
    )
    return StepResult(
        state=FlowState.from_dict(run.state), node_args=run.node_args, starts=(), outcome=Reschedule(countdown),
        traces=(),
    )


def _trace(run: FlowRun, unit: UnitOfWork, event: int, details: dict[str, Any]) -> None:
    """Trace through the run's revision's tracer, and as a row of ``unit``."""
    full = {"flow_name": run.flow_name, "dispatcher_id": run.pk, **details}
    tracer = StoragePool.for_config(config_for(run.revision_id)).tracer
    with tracing.collecting(unit):
        tracer.trace(event, full)
