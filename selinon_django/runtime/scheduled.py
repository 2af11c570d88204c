"""The Celery task a beat entry calls to start a scheduled flow (see :mod:`selinon_django.scheduling`)."""
from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from selinon_django.errors import SelinonDjangoError
from selinon_django.models import FLOW_UNFINISHED_STATUSES, FlowRun, ScheduleTick
from selinon_django.runtime.api import run_flow
from selinon_django.scheduling import SCHEDULE_TASK

__all__ = ["scheduled_flow", "start_scheduled"]

logger = logging.getLogger(__name__)


def start_scheduled(schedule: str, flow_name: str, node_args: Any = None, on_overlap: str = "skip") -> ScheduleTick:
    """One tick: start ``flow_name`` unless the policy says to skip; the tick is recorded."""
    if on_overlap == "skip":
        ticks = ScheduleTick.objects.filter(schedule=schedule, run__isnull=False).values("run_id")
        running = FlowRun.objects.filter(pk__in=ticks, status__in=FLOW_UNFINISHED_STATUSES).values_list("pk", flat=True)
        still = running.first()
        if still is not None:
            return ScheduleTick.objects.create(
                schedule=schedule, outcome=ScheduleTick.Outcome.SKIPPED, detail=f"run {still} is still running"[:255]
            )
    try:
        run_id = run_flow(flow_name, node_args)
    except SelinonDjangoError as error:
        logger.error("schedule %s could not start flow %s: %s", schedule, flow_name, error)
        return ScheduleTick.objects.create(
            schedule=schedule, outcome=ScheduleTick.Outcome.FAILED, detail=f"{type(error).__name__}: {error}"[:255]
        )
    return ScheduleTick.objects.create(schedule=schedule, outcome=ScheduleTick.Outcome.STARTED, run_id=str(run_id))


@shared_task(name=SCHEDULE_TASK, ignore_result=True)
def scheduled_flow(flow_name: str, node_args: Any = None, on_overlap: str = "skip", schedule: str | None = None,
                   **_: Any) -> str:
    """What a beat entry calls; returns the tick's outcome (shown in Celery's logs)."""
    tick = start_scheduled(schedule or f"{flow_name} (unnamed schedule)", flow_name, node_args, on_overlap)
    return f"{tick.outcome} {tick.run_id or tick.detail}"
