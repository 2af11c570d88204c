"""The Python API: start, select, cancel and retry flow runs (Selinon's names where they exist).

``run_flow`` and ``run_flow_selective`` return the run id, which is also the id under which the
flow's outcome lands in Celery's result backend: ``AsyncResult(run_id).get()`` returns when the
flow ends, as with Selinon. The id comes as a :class:`~selinon_django.runtime.flow_handle.FlowHandle`,
a ``str`` that also has ``.id`` and ``.get()``, because Selinon's ``run_flow`` returned an
``AsyncResult`` and Selinon code calls those.
"""
from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from selinon_django.conf import selinon_settings
from selinon_django.engine.selective import compute_selective
from selinon_django.errors import RunStateError as RunStateError
from selinon_django.errors import UnknownFlowError
from selinon_django.models.definitions import ConfigRevision
from selinon_django.models.runs import (
    FLOW_FINISHED_STATUSES,
    NODE_FINISHED_STATUSES,
    FlowRun,
    FlowRunStatus,
    NodeRun,
    NodeRunStatus,
)
from selinon_django.runtime import dispatcher, migrating, observers, tracing
from selinon_django.runtime.celery_app import get_celery_app
from selinon_django.runtime.configs import config_for
from selinon_django.runtime.flow_handle import FlowHandle
from selinon_django.runtime.messages import DISPATCHER_TASK, dispatcher_kwargs
from selinon_django.runtime.results import announce_outcome
from selinon_django.runtime.retrying import retry_failed_run
from selinon_django.runtime.unit_of_work import UnitOfWork
from selinon_django.runtime.wakeups import PENDING

__all__ = ["RunStateError", "cancel_flow", "retry_flow", "run_flow", "run_flow_selective"]


logger = logging.getLogger(__name__)


def _current_revision() -> ConfigRevision:
    revision = ConfigRevision.objects.current()
    if revision is None:
        raise UnknownFlowError("no configuration is loaded (run manage.py selinon_load first)")
    return revision


def _start(flow_name: str, node_args: Any, *, selective: dict[str, Any] | None, created_by: Any,
           revision: ConfigRevision | None = None) -> str:
    revision = revision or _current_revision()
    config = revision.system_config()
    if flow_name not in config.flows:
        raise UnknownFlowError(f"flow {flow_name!r} is not defined in configuration revision {revision.number}")
    run_id = str(uuid.uuid4())
    # the newest migration this process knows: a run started now is already on the graph it ends
    # at, so it must not be migrated through it later (no query: the cache is refreshed by steps)
    migration_version = migrating.latest_known_version(refresh=False)
    fields = {
        "id": run_id, "flow_name": flow_name, "revision": revision, "node_args": node_args, "selective": selective,
        "status": FlowRunStatus.PENDING, "created_by": created_by, "next_wakeup_at": PENDING,
        "created_at": timezone.now(), "migration_version": migration_version,
    }
    if observers.watching:  # the caller's span becomes the run's parent (OpenTelemetry)
        fields["trace_context"] = observers.run_trace_context(run_id)
    config_for(revision.pk)  # warm the cache with the row we already have
    run = FlowRun(**fields)
    if selinon_settings().START_INLINE and migrating.may_step_unlocked(run) and _first_step(run):
        return run_id
    unit = UnitOfWork(run_id)
    with transaction.atomic():
        FlowRun.objects.create(**fields)  # as given (a first step that raised changed ``run``)
        unit.enqueue(
            DISPATCHER_TASK,
            dispatcher_kwargs(
                run_id, flow_name, reason="start",
                full={"node_args": node_args, "parent": None, "selective": selective or False, "retried_count": 0,
                      "retry": None, "migration_version": migration_version, "state": None},
            ),
            queue=config.dispatcher_queue(flow_name),
            recorded=True,  # the run's row is pending
        )
        unit.commit()
    return run_id


def _first_step(run: FlowRun) -> bool:
    """Run the first step of a run not written yet, and write the run as the step left it with
    its first nodes: on PostgreSQL one statement (no transaction of its own: nobody can see the
    run before it exists, so it needs no lock; in the caller's transaction, a savepoint), else
    one transaction. False (nothing written) when the step raised: a dispatcher takes it."""
    tracing.install()
    unit = UnitOfWork(run.pk)  # its own: a caller's work (a task starting a flow) is not touched
    alone = unit.writes.combines and not transaction.get_connection().in_atomic_block
    try:
        with contextlib.nullcontext() if alone else transaction.atomic():
            dispatcher.step_locked(run, unit=unit, new=True)
            unit.commit()
    except Exception:
        logger.warning("first step of %s %s raised; it goes to a dispatcher instead", run.flow_name, run.pk,
                       exc_info=True)
        return False
    return True


def run_flow(flow_name: str, node_args: Any = None, *, created_by: Any = None) -> FlowHandle:
    """Start ``flow_name`` on the current configuration revision; returns the run id (with
    ``.id`` and ``.get()``, as Selinon's ``AsyncResult``).

    Raises :class:`~selinon_django.errors.UnknownFlowError` for a flow the revision lacks.
    """
    return FlowHandle(_start(flow_name, node_args, selective=None, created_by=created_by))


def run_flow_selective(
    flow_name: str,
    task_names: Iterable[str],
    node_args: Any = None,
    follow_subflows: bool = False,
    run_subsequent: bool = False,
    *,
    created_by: Any = None,
) -> FlowHandle:
    """Run only the part of ``flow_name`` leading to ``task_names`` (Selinon's signature); returns
    the run id as :func:`run_flow` does.

    Raises :class:`~selinon_django.errors.SelectiveNoPathError` when no path reaches a task.
    """
    revision = _current_revision()
    config = revision.system_config()
    if flow_name not in config.flows:
        raise UnknownFlowError(f"flow {flow_name!r} is not defined in configuration revision {revision.number}")
    plan = compute_selective(
        config, flow_name, list(task_names), follow_subflows=follow_subflows, run_subsequent=run_subsequent
    )
    return FlowHandle(
        _start(flow_name, node_args, selective=plan.to_dict(), created_by=created_by, revision=revision)
    )


def _tree(run_id: str) -> list[str]:
    """The run and all its sub-flow runs (any depth)."""
    ids = [run_id]
    frontier = [run_id]
    while frontier:
        frontier = list(FlowRun.objects.filter(parent_run_id__in=frontier).values_list("id", flat=True))
        ids.extend(frontier)
    return ids


def cancel_flow(run_id: str) -> int:
    """Revoke a run, its sub-flows and their running tasks; returns how many node runs were revoked.

    Rows are marked ``revoked`` first (a dispatcher or envelope that sees the mark does nothing),
    then Celery revokes the task ids, terminating the ones running. A finished run is refused.
    """
    now = timezone.now()
    unit = UnitOfWork(run_id)
    with transaction.atomic():
        run = FlowRun.objects.locked().filter(pk=run_id).first()
        if run is None:
            raise RunStateError(f"no flow run {run_id}")
        if run.status in FLOW_FINISHED_STATUSES:
            raise RunStateError(f"flow run {run_id} already {run.status}")
        ids = _tree(run_id)
        runs = list(FlowRun.objects.filter(pk__in=ids).exclude(status__in=FLOW_FINISHED_STATUSES).locked())
        run_ids = [r.pk for r in runs]
        nodes = NodeRun.objects.filter(flow_run_id__in=run_ids).exclude(status__in=NODE_FINISHED_STATUSES)
        # a node run inline (see runtime/continuations.py) runs under its carrier's task id
        task_ids = sorted({carrier or node for node, carrier in
                           nodes.filter(kind=NodeRun.Kind.TASK).values_list("id", "carried_by")})
        revoked = nodes.update(status=NodeRunStatus.REVOKED, finished_at=now, updated_at=now)
        FlowRun.objects.filter(pk__in=run_ids).update(
            status=FlowRunStatus.REVOKED, finished_at=now, next_wakeup_at=None, updated_at=now,
            error="cancelled",
        )
        # the parent of a cancelled sub-flow sees its node as failed-by-revocation
        if run.parent_run_id:
            NodeRun.objects.filter(pk=run.parent_node_id or run.pk).update(
                status=NodeRunStatus.REVOKED, finished_at=now
            )
            dispatcher.wake(run.parent_run_id, unit, reason="sub-flow cancelled")
        unit.commit()

        if task_ids:
            transaction.on_commit(lambda: get_celery_app().control.revoke(task_ids, terminate=True))
        for cancelled in runs:
            cancelled.status, cancelled.finished_at, cancelled.error = FlowRunStatus.REVOKED, now, "cancelled"
            announce_outcome(cancelled)
    return revoked


def retry_flow(run_id: str) -> str:
    """Re-run a failed run from its failed nodes, keeping what succeeded; returns the run id.

    The same run row goes on: every failed node instance (failed task, or failed sub-flow run,
    itself retried recursively when it failed because of its own nodes) is removed from
    ``failed_nodes`` and started again as a new node run with the same name, parent and
    node_args; the flow is running again and follows its edges from there. Only a failed
    top-level run can be retried.
    """
    return retry_failed_run(run_id)
