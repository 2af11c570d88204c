"""Trigger tasks whose ``run`` names a flow: the flow's end decides the instance's end.

The flow is started by :func:`selinon_django.triggers.manager.fire` in the firing transaction;
when the run ends, its success fires the trigger task's name with the flow's result (the
``finished_nodes`` the dispatcher stores, plus ``run_id``, ``flow_name`` and ``results``: the
JSON result of each task of the run, by task name, from its latest succeeded node run), so
events and flows compose: a trigger task can wait for a flow like for any other trigger.
"""
from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from selinon_django.models.runs import FLOW_FINISHED_STATUSES, FlowRun, FlowRunStatus, NodeRun, NodeRunStatus
from selinon_django.models.triggers import (
    TRIGGER_TASK_FINISHED,
    FiredTrigger,
    TriggerSession,
    TriggerTaskInstance,
    TriggerTaskStatus,
)
from selinon_django.runtime.unit_of_work import UnitOfWork
from selinon_django.triggers.manager import fire_locked

__all__ = ["flow_cascade_kwargs", "flow_run_finished", "reconcile_flow_instances"]


def flow_cascade_kwargs(run: FlowRun) -> dict[str, Any]:
    """What a flow's success passes to the cascade."""
    results: dict[str, Any] = {}
    rows = (
        NodeRun.objects.filter(flow_run_id=run.pk, kind=NodeRun.Kind.TASK, status=NodeRunStatus.SUCCEEDED)
        .order_by("finished_at", "created_at")
        .values_list("name", "result")
    )
    for name, value in rows:
        results[name] = value
    stored = run.result if isinstance(run.result, dict) else {}
    return {**stored, "run_id": run.pk, "flow_name": run.flow_name, "results": results}


def _open_instance_id(run_id: str) -> Any:
    """The id of the unfinished trigger-task instance that started ``run_id``, or None.

    Every root flow's end asks this, and almost always of a run no trigger started: one plain
    statement (the ORM query cost four times its execution, a few per cent of a chain's hop).
    """
    table = connection.ops.quote_name(TriggerTaskInstance._meta.db_table)
    marks = ", ".join(["%s"] * len(TRIGGER_TASK_FINISHED))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {table} WHERE flow_run_id = %s AND status NOT IN ({marks}) LIMIT 1",
            [run_id, *(str(status) for status in TRIGGER_TASK_FINISHED)],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def flow_run_finished(run_id: str) -> bool:
    """Finish the trigger-task instance that started ``run_id`` (if any); True when it did."""
    instance_id = _open_instance_id(run_id)
    if instance_id is None:
        return False
    instance = TriggerTaskInstance.objects.get(pk=instance_id)
    run = FlowRun.objects.get(pk=run_id)
    if run.status not in FLOW_FINISHED_STATUSES:
        return False
    now = timezone.now()
    unit = UnitOfWork()
    with transaction.atomic():
        session = TriggerSession.objects.select_for_update().get(pk=instance.session_id)
        pending = TriggerTaskInstance.objects.filter(pk=instance.pk).exclude(status__in=TRIGGER_TASK_FINISHED)
        if run.status == FlowRunStatus.SUCCEEDED:
            kwargs = flow_cascade_kwargs(run)
            done = pending.update(status=TriggerTaskStatus.SUCCEEDED, result=kwargs, finished_at=now, updated_at=now)
            if done:
                fire_locked(session, instance.name, kwargs, unit=unit, source=FiredTrigger.Source.FLOW,
                            cascade_of=instance)
        else:
            done = pending.update(
                status=TriggerTaskStatus.FAILED, finished_at=now, updated_at=now,
                error=f"flow {run.flow_name} run {run.pk} {run.status}: {run.error}".rstrip(": "),
            )
        unit.commit()
    return bool(done)


def reconcile_flow_instances() -> int:
    """Finish instances whose flow ended while no receiver ran (a crash after the commit)."""
    ids = TriggerTaskInstance.objects.filter(
        kind=TriggerTaskInstance.Kind.FLOW, status=TriggerTaskStatus.STARTED,
        flow_run__status__in=FLOW_FINISHED_STATUSES,
    ).values_list("flow_run_id", flat=True)
    return sum(flow_run_finished(run_id) for run_id in list(ids) if run_id)
