"""The Celery task that runs trigger-task instances (one registered task for every class).

Like the runtime's tasks it acknowledges late and is requeued when its worker is lost: the
instance row, not the broker, decides whether a delivery is new work. Import this module in the
worker: ``app.autodiscover_tasks(["selinon_django.triggers"], related_name="celery_tasks")``.
"""
from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import close_old_connections

from selinon_django.triggers import execution
from selinon_django.triggers.manager import TRIGGER_TASK


@shared_task(name=TRIGGER_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def trigger_task(self: Any, instance_id: str, attempt: int = 0, **_: Any) -> str:
    """One attempt of a trigger-task instance; the Celery task id is the instance id."""
    close_old_connections()
    return execution.handle_message(instance_id, int(attempt), hostname=self.request.hostname or "")
