"""One delivery of a trigger-task message: claim the instance, run one attempt, record it.

Delivery is at least once, so the steps are the runtime envelope's: on PostgreSQL an advisory
lock on the instance id says a live process runs it (a second delivery re-checks later); the
row's ``attempts`` tells a fresh message from a stale duplicate; the attempt is committed as
``started`` before the task runs. The outcome, and on success the cascade (the trigger named
after the task, carrying its result), are written in one transaction under the session lock, so
a cascade happens exactly when the success is recorded.
"""
from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from selinon_django.models.triggers import (
    TRIGGER_TASK_FINISHED,
    FiredTrigger,
    TriggerSession,
    TriggerTaskInstance,
    TriggerTaskStatus,
)
from selinon_django.runtime import outbox
from selinon_django.runtime.envelope import node_lock
from selinon_django.triggers.manager import TRIGGER_TASK, TriggerManager, fire_locked, message_for
from selinon_django.triggers.task import RetryRequested, TaskContext, TriggerTask

logger = logging.getLogger(__name__)

#: seconds before a delivery that found its instance running elsewhere looks again
BUSY_RECHECK = 3.0


@dataclass(frozen=True)
class Succeeded:
    result: Any
    cascade_kwargs: dict[str, Any]


@dataclass(frozen=True)
class Retry:
    cooldown: float
    error: str
    trigger_kwargs: dict[str, dict[str, Any]] | None


@dataclass(frozen=True)
class Failed:
    error: str
    traceback: str


def handle_message(instance_id: str, attempt: int, *, hostname: str = "") -> str:
    """Serve one message (the Celery task calls this); returns what happened, for logs and tests."""
    with node_lock(f"trigger:{instance_id}") as acquired:
        if not acquired:
            row = TriggerTaskInstance.objects.filter(pk=instance_id).first()
            if row is not None:
                message, options = message_for(row, attempt=attempt, countdown=BUSY_RECHECK)
                outbox.publish([outbox.Message(TRIGGER_TASK, message, options)])
            return "busy"
        return _claim_and_run(instance_id, attempt)


def _claim_and_run(instance_id: str, attempt: int) -> str:
    with transaction.atomic():
        row = TriggerTaskInstance.objects.select_for_update().filter(pk=instance_id).first()
        if row is None:
            return "unknown"
        if row.status in TRIGGER_TASK_FINISHED or row.kind != TriggerTaskInstance.Kind.TASK:
            return "duplicate"
        if row.attempts == attempt + 1 and row.status == TriggerTaskStatus.STARTED:
            # this attempt started and never recorded an end: its process died; run it again
            logger.warning("trigger task %s %s: attempt %d was lost, running it again", row.name, row.pk, attempt + 1)
        elif row.attempts != attempt:
            return "duplicate"
        now = timezone.now()
        TriggerTaskInstance.objects.filter(pk=row.pk).update(
            status=TriggerTaskStatus.STARTED, attempts=attempt + 1, started_at=now, updated_at=now,
        )
        session_key = TriggerSession.objects.filter(pk=row.session_id).values_list("key", flat=True).get()
    context = TaskContext(
        manager=TriggerManager(session_key, source=FiredTrigger.Source.TASK),
        trigger_kwargs={name: dict(kwargs or {}) for name, kwargs in (row.trigger_kwargs or {}).items()},
        task_name=row.name, instance_id=row.pk, attempt=attempt + 1,
    )
    outcome = run_attempt(row, context)
    record(row, outcome, attempt=attempt + 1)
    return {Succeeded: "succeeded", Retry: "retried", Failed: "failed"}[type(outcome)]


def run_attempt(row: TriggerTaskInstance, context: TaskContext) -> Succeeded | Retry | Failed:
    """Build the task class named by ``row.target`` and run it once; never raises for the task."""
    log = context.get_logger_context()
    try:
        cls = import_string(row.target)
        if not (isinstance(cls, type) and issubclass(cls, TriggerTask)):
            raise TypeError(f"{row.target} is not a TriggerTask subclass")
        task = cls(name=row.name, attempt=context.attempt, max_retries=row.max_retries)
        log.info("attempt %d started", context.attempt)
        result = task.run(context)
        cascade = dict(result) if isinstance(result, Mapping) else {}
        stored = json.loads(json.dumps(result, cls=DjangoJSONEncoder))
        cascade = json.loads(json.dumps(cascade, cls=DjangoJSONEncoder))
    except RetryRequested as retry:
        cause = retry.exc
        log.info("retry in %s s%s", retry.cooldown, f" after {type(cause).__name__}: {cause}" if cause else "")
        error = f"{type(cause).__name__}: {cause}" if cause is not None else "retry requested"
        return Retry(cooldown=retry.cooldown, error=error, trigger_kwargs=_plain(retry.trigger_kwargs))
    except Exception as error:
        log.error("failed: %s: %s", type(error).__name__, error)
        return Failed(error=f"{type(error).__name__}: {error}", traceback=traceback.format_exc())
    log.info("succeeded")
    return Succeeded(result=stored, cascade_kwargs=cascade)


def _plain(value: Any) -> Any:
    return None if value is None else json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def record(row: TriggerTaskInstance, outcome: Succeeded | Retry | Failed, *, attempt: int) -> None:
    """The attempt's end in one transaction: status, the retry message or the cascade."""
    now = timezone.now()
    with transaction.atomic():
        session = TriggerSession.objects.select_for_update().get(pk=row.session_id)
        pending = TriggerTaskInstance.objects.filter(pk=row.pk).exclude(status__in=TRIGGER_TASK_FINISHED)
        if isinstance(outcome, Succeeded):
            if pending.update(status=TriggerTaskStatus.SUCCEEDED, result=outcome.result, error="", traceback="",
                              finished_at=now, updated_at=now):
                fire_locked(session, row.name, outcome.cascade_kwargs, source=FiredTrigger.Source.CASCADE,
                            cascade_of=row)
        elif isinstance(outcome, Failed):
            pending.update(status=TriggerTaskStatus.FAILED, error=outcome.error, traceback=outcome.traceback,
                           finished_at=now, updated_at=now)
        else:
            update: dict[str, Any] = {"status": TriggerTaskStatus.RETRYING, "error": outcome.error, "updated_at": now}
            if outcome.trigger_kwargs is not None:
                update["trigger_kwargs"] = outcome.trigger_kwargs
            if pending.update(**update):
                message, options = message_for(row, attempt=attempt, countdown=outcome.cooldown)
                outbox.enqueue(TRIGGER_TASK, message, **options)
        outbox.flush()
