"""``retry_flow``: a failed run goes on from its failed nodes, keeping what succeeded.

Kept deliberately simple: each failed node instance recorded in the run's final
``failed_nodes`` is started again as a new node run (new id; the failed row stays as history)
with the same name, parent mapping and node_args, and takes the failed one's place among the
active nodes. A failed sub-flow is retried the same way, recursively, under its own id. The
edges waiting on those nodes are still in ``waiting_edges``, so when the new instances finish
the flow follows its edges as if the failure had never happened. Failures a fallback already
handled are not in ``failed_nodes`` and are not retried.
"""
from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from selinon_django.errors import RunStateError
from selinon_django.models.history import RunAttempt
from selinon_django.models.runs import FlowRun, FlowRunStatus, NodeRun, NodeRunStatus
from selinon_django.runtime import messages
from selinon_django.runtime.configs import config_for
from selinon_django.runtime.unit_of_work import UnitOfWork
from selinon_django.runtime.wakeups import schedule


class RetryRefused(Exception):
    pass


def retry_failed_run(run_id: str) -> str:
    unit = UnitOfWork(run_id)
    with transaction.atomic():
        run = FlowRun.objects.locked().filter(pk=run_id).first()
        if run is None:
            raise RunStateError(f"no flow run {run_id}")
        if run.status != FlowRunStatus.FAILED:
            raise RunStateError(f"flow run {run_id} is {run.status}; only a failed run can be retried")
        if run.parent_run_id is not None:
            raise RunStateError(f"flow run {run_id} is a sub-flow; retry its top-level run {run.root_run_id}")
        restarted = _restart(run, unit)
        if not restarted:
            raise RunStateError(f"flow run {run_id} has no failed node to retry")
        unit.commit()
    return run_id


def _restart(run: FlowRun, unit: UnitOfWork) -> int:
    """Start the failed nodes of ``run`` again (their messages in ``unit``); returns how many were
    restarted."""
    config = config_for(run.revision_id)
    now = timezone.now()
    state: dict[str, Any] = dict(run.state or {})
    failed: dict[str, list[str]] = {k: list(v) for k, v in (state.get("failed_nodes") or {}).items()}
    active: list[dict[str, str]] = list(state.get("active_nodes") or [])
    old_rows = {row.pk: row for row in NodeRun.objects.filter(pk__in=[i for ids in failed.values() for i in ids])}
    restarted = 0
    new_rows: list[NodeRun] = []
    for name, ids in failed.items():
        for node_id in ids:
            old = old_rows.get(node_id)
            if config.is_flow(name):
                child = FlowRun.objects.locked().filter(pk=node_id).first()
                if child is None or child.status != FlowRunStatus.FAILED or not _restart(child, unit):
                    continue
                NodeRun.objects.filter(pk=node_id).update(
                    status=NodeRunStatus.STARTED, finished_at=None, updated_at=now
                )
                active.append({"name": name, "id": node_id})
            else:
                new_id = str(uuid.uuid4())
                parent = old.parent if old is not None else None
                node_args = old.node_args if old is not None else run.node_args
                new_rows.append(
                    NodeRun(id=new_id, flow_run_id=run.pk, name=name, kind=NodeRun.Kind.TASK, status=NodeRunStatus.SENT,
                            parent=parent, node_args=node_args, is_fallback=bool(old and old.is_fallback),
                            created_at=now, sent_at=now)
                )
                message = messages.TaskMessage(
                    node_id=new_id, flow_name=run.flow_name, task_name=name, parent=parent, node_args=node_args,
                    dispatcher_id=run.pk, revision_id=run.revision_id,
                )
                message.enqueue(unit, message.options(config), recorded=True)  # (the new row says sent)
                active.append({"name": name, "id": new_id})
            restarted += 1
    if not restarted:
        return 0
    NodeRun.objects.bulk_create(new_rows)
    RunAttempt.ended(run, RunAttempt.Cause.RETRY, now).save()  # the failed try, kept as history
    state["active_nodes"] = active
    state["failed_nodes"] = {}
    FlowRun.objects.filter(pk=run.pk).update(
        status=FlowRunStatus.RUNNING, state=state, state_version=run.state_version + 1, finished_at=None,
        error="", result=None, next_wakeup_at=schedule(2.0)[0], updated_at=now,
    )
    return restarted
