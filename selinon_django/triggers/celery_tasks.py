"""The Celery task that runs trigger-task instances (one registered task for every class).

Like the runtime's tasks it acknowledges late and is requeued when its worker is lost: the
instance row, not the broker, decides whether a delivery is new work. A database error hands
the message back marked *interrupted* (as a node task's, see
:mod:`selinon_django.runtime.celery_tasks`): the instance runs again, not counted as lost.
Import this module in the worker: ``app.autodiscover_tasks(["selinon_django.triggers"],
related_name="celery_tasks")``.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from celery import shared_task
from celery.exceptions import Reject
from django.db import InterfaceError, OperationalError, close_old_connections, connection

from selinon_django.runtime import outbox
from selinon_django.runtime.messages import TRIGGER_TASK, TriggerMessage
from selinon_django.triggers import execution

logger = logging.getLogger(__name__)

#: pause before a message is handed back after a database error (avoids a hot loop)
DATABASE_ERROR_PAUSE = 0.5


@shared_task(name=TRIGGER_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def trigger_task(self: Any, instance_id: str, attempt: int = 0, lost: int = 0, interrupted: bool = False,
                 **_: Any) -> str:
    """One attempt of a trigger-task instance; the Celery task id is the instance id."""
    close_old_connections()
    try:
        return execution.handle_message(instance_id, int(attempt), lost=int(lost), interrupted=bool(interrupted),
                                        hostname=self.request.hostname or "")
    except (OperationalError, InterfaceError) as exc:
        info = self.request.delivery_info or {}
        message = TriggerMessage(instance_id, attempt=int(attempt), lost=int(lost), interrupted=True,
                                 queue=info.get("routing_key"), priority=info.get("priority"))
        return _hand_back(message, exc)


def _hand_back(message: TriggerMessage, exc: BaseException) -> str:
    """Publish this message again marked interrupted (the queue and priority it came with) and
    acknowledge this delivery; if the broker refuses too, reject it back to its queue."""
    logger.warning("database error (%s); the trigger message is handed back", exc)
    try:
        connection.close()
    except Exception:
        logger.debug("closing the broken connection failed", exc_info=True)
    time.sleep(DATABASE_ERROR_PAUSE)
    try:
        outbox.publish([outbox.Message(TRIGGER_TASK, message.kwargs(), message.options().as_dict())])
    except Exception as publish_error:
        logger.warning("handing the message back failed (%s): rejected to its queue", publish_error)
        raise Reject(str(exc), requeue=True) from exc
    return "interrupted"
