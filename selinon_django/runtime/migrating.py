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

A chain is only applied where it connects to the run: the first migration must have been
computed from a graph identical (edges' ``from``/``to``) to the one the run is on, and each next
one from where the previous one ended. A run whose graph changed without a migration stays where
it is and ``MIGRATION_ERROR`` says why, because guessing would point its state at wrong edges.
When the current revision has the same graph for the flow as where the chain ends (a change of
conditions or task options only needs no migration), the run moves to the current revision.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from selinon_django.conf import selinon_settings
from selinon_django.engine.migrations import (
    Migration,
    MigrationOutcome,
    TaintedFlowStrategy,
    apply_migrations,
    diff_flows,
)
from selinon_django.models.definitions import ConfigRevision
from selinon_django.models.migrations import FlowMigrationRecord
from selinon_django.models.runs import FLOW_FINISHED_STATUSES, FlowRun, FlowRunStatus, empty_state
from selinon_django.trace.events import Trace

if TYPE_CHECKING:
    from selinon_django.config.model import Flow, SystemConfig
    from selinon_django.engine.dispatcher import StepResult

logger = logging.getLogger(__name__)

#: seconds before a run held back by a migration skew is looked at again
SKEW_COUNTDOWN = 10.0

PIN = "pin"
MIGRATE = "migrate"


def policy_for(flow_name: str) -> str:
    """``"pin"`` or ``"migrate"`` for a flow: its own entry, else ``"*"``, else pin."""
    policy = selinon_settings().MIGRATION_POLICY or {}
    return str(policy.get(flow_name, policy.get("*", PIN)))


@dataclass(frozen=True)
class KnownMigration:
    """A stored migration as this process knows it (rows never change, so it is cached)."""

    version: int
    migration: Migration
    from_revision_id: int | None
    to_revision_id: int | None
    to_revision_number: int | None
    from_hash: str = ""
    to_hash: str = ""
    created_at: datetime | None = None

    def linked(self) -> KnownMigration:
        """With its revisions found by content hash when the row was stored before they were loaded."""
        if self.from_revision_id is not None and self.to_revision_id is not None:
            return self
        from_id, to_id, to_number = self.from_revision_id, self.to_revision_id, self.to_revision_number
        if from_id is None and self.from_hash:
            from_id = ConfigRevision.objects.filter(content_hash=self.from_hash).values_list("id", flat=True).first()
        if to_id is None and self.to_hash:
            found = ConfigRevision.objects.filter(content_hash=self.to_hash).order_by("number")
            row = found.values("id", "number").first()
            if row is not None:
                to_id, to_number = row["id"], row["number"]
        return replace(self, from_revision_id=from_id, to_revision_id=to_id, to_revision_number=to_number)


class _Known:
    """The migrations this process has read, refreshed incrementally (rows are append-only)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_version: dict[int, KnownMigration] = {}

    @property
    def latest(self) -> int:
        return max(self.by_version, default=0)

    def refresh(self) -> int:
        """Read rows newer than the newest known; returns the newest version known now."""
        with self.lock:
            after = self.latest
        rows = (
            FlowMigrationRecord.objects.after(after)
            .values("version", "content", "from_revision_id", "to_revision_id", "to_revision__number",
                    "from_hash", "to_hash", "created_at")
        )
        fresh = [
            KnownMigration(
                version=row["version"],
                migration=FlowMigrationRecord(content=row["content"]).migration(),
                from_revision_id=row["from_revision_id"],
                to_revision_id=row["to_revision_id"],
                to_revision_number=row["to_revision__number"],
                from_hash=row["from_hash"],
                to_hash=row["to_hash"],
                created_at=row["created_at"],
            )
            for row in rows
        ]
        with self.lock:
            for known in fresh:
                self.by_version[known.version] = known
            return self.latest

    def clear(self) -> None:
        with self.lock:
            self.by_version.clear()

    def snapshot(self) -> list[KnownMigration]:
        with self.lock:
            return [self.by_version[version] for version in sorted(self.by_version)]


_known = _Known()


def forget_known_migrations() -> None:
    """Drop this process's cache of migration rows (tests; a database that was emptied)."""
    _known.clear()


def latest_known_version(*, refresh: bool = True) -> int:
    """The newest migration version this worker can apply (0: none)."""
    return _known.refresh() if refresh else _known.latest


def before_step(run: FlowRun) -> StepResult | None:
    """Called first in a dispatcher step with the run's row locked.

    Returns None when the step should go on (the run may now be on a newer revision with a
    migrated state, or restarting from scratch), or the result of a step that must not run:
    the run was put back because of a migration skew, or failed because a migration tainted it.
    """
    if run.status in FLOW_FINISHED_STATUSES:
        return None
    latest = _known.latest
    if run.migration_version > latest:
        latest = _known.refresh()
        if run.migration_version > latest:
            return _put_back(run, latest)
    if policy_for(run.flow_name) != MIGRATE:
        return None
    return _migrate(run)


def may_step_unlocked(run: FlowRun) -> bool:
    """Whether :func:`before_step` would let a step go on without writing anything: runs under
    the ``migrate`` policy (which may rewrite the state) and runs ahead of this process's
    known migrations (put back) need the locked step."""
    return run.migration_version <= _known.latest and policy_for(run.flow_name) != MIGRATE


@dataclass
class _Plan:
    chain: list[KnownMigration]
    from_version: int
    target_revision_id: int
    error: str | None = None


def in_past(record: KnownMigration, run_number: int, run_created: datetime) -> bool:
    """Whether a migration is already part of the revision a run is on.

    A run started on a newer revision than its ``migration_version`` says (runs record the
    version they start with only since migrations exist) must not be migrated again through the
    migrations that led to its revision: those ending at or before its revision, or, for a row
    that names no revision (a Selinon ``N.json`` read from a directory), stored before it.
    """
    if record.to_revision_number is not None:
        return record.to_revision_number <= run_number
    return record.created_at is not None and record.created_at <= run_created


@dataclass
class ChainWalk:
    """How far a flow's graph gets through the stored migrations, one version at a time."""

    applied: list[KnownMigration]
    #: the graph and the revision the walk got to
    flow: Flow
    revision_id: int
    #: why it stopped before the last migration: a kind ("missing", "unlinked", "other_graph",
    #: "no_flow"), the version expected next, and the migration it stopped at (None if missing)
    stop: tuple[str, int, KnownMigration | None] | None = None


def walk_chain(
    flow_name: str,
    flow: Flow,
    revision_id: int,
    migrations: Sequence[KnownMigration],
    base: int,
    config_of: Callable[[int], SystemConfig],
    *,
    until: Callable[[ChainWalk], bool] | None = None,
) -> ChainWalk:
    """Follow the migrations after version ``base`` from ``flow`` (on ``revision_id``).

    Each next version must exist, name stored revisions, and have been computed from the graph
    the walk is on (edges' ``from``/``to`` compared); the walk stops at the first that does not,
    or when ``until`` says so. The runtime moves a run along it; the admin shows it.
    """
    walk = ChainWalk(applied=[], flow=flow, revision_id=revision_id)
    expected = base + 1
    for record in (m for m in migrations if m.version > base):
        if until is not None and until(walk):
            break
        if record.version != expected:
            walk.stop = ("missing", expected, None)
            break
        if record.from_revision_id is None or record.to_revision_id is None:
            walk.stop = ("unlinked", expected, record)
            break
        start = config_of(record.from_revision_id).flows.get(flow_name)
        end = config_of(record.to_revision_id).flows.get(flow_name)
        if start is None or diff_flows(walk.flow, start) is not None:
            walk.stop = ("other_graph", expected, record)
            break
        if end is None:
            walk.stop = ("no_flow", expected, record)
            break
        walk.applied.append(record)
        walk.flow, walk.revision_id, expected = end, record.to_revision_id, expected + 1
    return walk


def _plan(run: FlowRun, current_id: int, run_number: int, run_created: datetime) -> _Plan:
    from selinon_django.runtime.configs import config_for

    known = [record.linked() for record in _known.snapshot() if record.version > run.migration_version]
    base = max([run.migration_version] + [k.version for k in known if in_past(k, run_number, run_created)])
    flow: Flow | None = config_for(run.revision_id).flows.get(run.flow_name)
    plan = _Plan(chain=[], from_version=base, target_revision_id=run.revision_id)
    if flow is None:
        return plan
    walk = walk_chain(run.flow_name, flow, run.revision_id, known, base, config_for)
    plan.chain, plan.target_revision_id = walk.applied, walk.revision_id
    if walk.stop is not None:
        kind, expected, _ = walk.stop
        plan.error = {
            "missing": f"migration {expected} is missing",
            "unlinked": f"migration {expected} is not linked to stored revisions",
            "other_graph": (
                f"migration {expected} was computed from another graph of {run.flow_name} than the "
                "run is on (a revision changed its edges without a migration)"
            ),
            "no_flow": f"revision of migration {expected} has no flow {run.flow_name}",
        }[kind]
    newest = config_for(current_id).flows.get(run.flow_name)
    if newest is not None and diff_flows(walk.flow, newest) is None:
        plan.target_revision_id = current_id
    return plan


def _migrate(run: FlowRun) -> StepResult | None:
    current = ConfigRevision.objects.order_by("-number").values("id", "number").first()
    if current is None:
        return None
    _known.refresh()
    if current["id"] == run.revision_id and run.migration_version >= _known.latest:
        return None
    run_number, run_created = (
        ConfigRevision.objects.values_list("number", "created_at").get(pk=run.revision_id)
    )
    if run_number >= current["number"]:
        return None
    plan = _plan(run, current["id"], run_number, run_created)
    if plan.error is not None:
        _trace(run, Trace.MIGRATION_ERROR, {"what": plan.error, "migration_version": run.migration_version})
        logger.warning("run %s of %s not migrated: %s", run.pk, run.flow_name, plan.error)
    if not plan.chain and plan.target_revision_id == run.revision_id:
        return None
    outcome = apply_migrations(
        run.state or empty_state(), run.flow_name, plan.from_version, [k.migration for k in plan.chain]
    )
    return _record(run, outcome, plan)


def _record(run: FlowRun, outcome: MigrationOutcome, plan: _Plan) -> StepResult | None:
    from_number = run.revision.number
    old_version = run.migration_version
    update: dict[str, Any] = {
        "revision_id": plan.target_revision_id,
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
        _trace(run, event, event_details)
    if result is not None:
        from selinon_django.runtime.dispatcher import finish_run_side_effects

        finish_run_side_effects(run)
    return result


def _fail(run: FlowRun, outcome: MigrationOutcome, update: dict[str, Any]) -> StepResult:
    from selinon_django.engine.actions import FailFlow
    from selinon_django.engine.dispatcher import StepResult
    from selinon_django.engine.state import FlowState

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


def _put_back(run: FlowRun, latest: int) -> StepResult:
    """Hold the run until a worker that knows its migration version serves it."""
    from selinon_django.engine.actions import Reschedule
    from selinon_django.engine.dispatcher import StepResult
    from selinon_django.engine.state import FlowState
    from selinon_django.runtime import outbox
    from selinon_django.runtime.configs import config_for
    from selinon_django.runtime.messages import DISPATCHER_TASK, dispatcher_kwargs

    countdown = SKEW_COUNTDOWN
    logger.warning(
        "run %s of %s has migration version %d, newer than %d known here: put back for %.0f s",
        run.pk, run.flow_name, run.migration_version, latest, countdown,
    )
    # The sweeper's safety net too, in case the countdown message is lost; neither the state
    # version nor the retry count changes: this is not a step and not a retry.
    FlowRun.objects.filter(pk=run.pk).update(next_wakeup_at=timezone.now() + timedelta(seconds=countdown))
    outbox.enqueue(
        DISPATCHER_TASK,
        dispatcher_kwargs(run.pk, run.flow_name, state_version=run.state_version, reason="migration skew"),
        queue=config_for(run.revision_id).dispatcher_queue(run.flow_name),
        countdown=countdown,
    )
    _trace(
        run,
        Trace.MIGRATION_SKEW,
        {"migration_version": run.migration_version, "latest_migration_version": latest, "countdown": countdown},
    )
    outbox.flush()
    return StepResult(
        state=FlowState.from_dict(run.state), node_args=run.node_args, starts=(), outcome=Reschedule(countdown),
        traces=(),
    )


def _trace(run: FlowRun, event: int, details: dict[str, Any]) -> None:
    """Trace through the run's revision's tracer, and as a row in the current transaction."""
    from selinon_django.runtime import tracing
    from selinon_django.runtime.configs import config_for
    from selinon_django.storages.pool import StoragePool

    full = {"flow_name": run.flow_name, "dispatcher_id": run.pk, **details}
    tracer = StoragePool.for_config(config_for(run.revision_id)).tracer
    with tracing.collecting(run.pk, enabled=selinon_settings().TRACE_DATABASE) as owns:
        tracer.trace(event, full)
        if owns:
            tracing.flush()
