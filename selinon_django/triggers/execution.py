"""One delivery of a trigger-task message: claim the instance, run one attempt, record it.

Delivery is at least once, so the steps are the runtime envelope's: on PostgreSQL an advisory
lock on the instance id says a live process runs it (a second delivery re-checks later); the
row's ``attempts`` tells a fresh message from a stale duplicate; the attempt is committed as
``started`` (with the worker) before the task runs. The outcome, and on success the cascade (the
trigger named after the task, carrying its result), are written in one transaction under the
session lock, so a cascade happens exactly when the success is recorded.

A delivery that finds the instance started by its own attempt, which never recorded an end,
met an attempt whose process died (Celery redelivers the message of a killed pool process; the
sweeper resends the one of a dead worker). As for a node, that attempt is counted in the
message's ``lost`` and the instance runs again from a *new* message (a redelivered message
cannot be told from its own duplicate), or fails once more than
``max(max_retries, LOST_TASK_RETRIES)`` attempts were lost: a task that kills its process
cannot loop. A message handed back after a database error (``interrupted``) runs it again
without counting.
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

from selinon_django.conf import selinon_settings
from selinon_django.models.triggers import (
    TRIGGER_TASK_FINISHED,
    FiredTrigger,
    TriggerSession,
    TriggerTaskInstance,
    TriggerTaskStatus,
)
from selinon_django.runtime.envelope import node_lock
from selinon_django.runtime.messages import TriggerMessage
from selinon_django.runtime.unit_of_work import UnitOfWork
from selinon_django.triggers.manager import TriggerManager, fire_locked
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


def handle_message(instance_id: str, attempt: int, *, lost: int = 0, interrupted: bool = False,
                   hostname: str = "") -> str:
    """Serve one message (the Celery task calls this; see :class:`~selinon_django.runtime.messages.TriggerMessage`
    for the counters); returns what happened, for logs and tests."""
    with node_lock(f"trigger:{instance_id}") as acquired:
        if not acquired:
            row = TriggerTaskInstance.objects.filter(pk=instance_id).first()
            if row is not None and not row.is_finished:
                TriggerMessage.for_instance(row, attempt=attempt, lost=lost).publish(countdown=BUSY_RECHECK)
            return "busy"
        return _claim_and_run(instance_id, attempt, lost=lost, interrupted=interrupted, hostname=hostname)


def _claim_and_run(instance_id: str, attempt: int, *, lost: int = 0, interrupted: bool = False,
                   hostname: str = "") -> str:
    with transaction.atomic():
        row = TriggerTaskInstance.objects.select_for_update().filter(pk=instance_id).first()
        if row is None:
            return "unknown"
        if row.status in TRIGGER_TASK_FINISHED or row.kind != TriggerTaskInstance.Kind.TASK:
            return "duplicate"
        if row.attempts == attempt + 1 and row.status == TriggerTaskStatus.STARTED:
            return _attempt_ended_unrecorded(row, lost=lost, interrupted=interrupted)
        if row.attempts != attempt:
            return "duplicate"
        now = timezone.now()
        TriggerTaskInstance.objects.filter(pk=row.pk).update(
            status=TriggerTaskStatus.STARTED, attempts=attempt + 1, started_at=now, updated_at=now,
            worker=hostname[:255],
        )
        session_key = TriggerSession.objects.filter(pk=row.session_id).values_list("key", flat=True).get()
    context = TaskContext(
        manager=TriggerManager(session_key, source=FiredTrigger.Source.TASK),
        trigger_kwargs={name: dict(kwargs or {}) for name, kwargs in (row.trigger_kwargs or {}).items()},
        task_name=row.name, instance_id=row.pk, attempt=attempt + 1,
    )
    outcome = run_attempt(row, context)
    record(row, outcome, attempt=attempt + 1, lost=lost)
    return {Succeeded: "succeeded", Retry: "retried", Failed: "failed"}[type(outcome)]


def _attempt_ended_unrecorded(row: TriggerTaskInstance, *, lost: int, interrupted: bool) -> str:
    """The row (locked) was started by this message's attempt, which never recorded its end.

    ``interrupted``: the attempt met a database error in a live process, which handed the
    message back - run again, nothing counted. Otherwise its process died: counted in ``lost``;
    run again from a new message, or failed once the lost attempts exceed the cap.
    """
    now = timezone.now()
    pending = TriggerTaskInstance.objects.filter(pk=row.pk, status=TriggerTaskStatus.STARTED)
    if interrupted:
        logger.warning("trigger task %s %s: attempt %d met a database error, running it again",
                       row.name, row.pk, row.attempts)
        error = "DatabaseError: the attempt could not be recorded (database unreachable)"
    else:
        lost += 1
        cap = max(_max_retries(row), selinon_settings().LOST_TASK_RETRIES)
        if lost > cap:
            logger.error("trigger task %s %s: its worker died %d time(s), failed", row.name, row.pk, lost)
            pending.update(status=TriggerTaskStatus.FAILED, finished_at=now, updated_at=now,
                           error=f"WorkerLostError: the worker running this task died {lost} time(s)", traceback="")
            return "lost-too-often"
        logger.warning("trigger task %s %s: attempt %d was lost with its process, running it again",
                       row.name, row.pk, row.attempts)
        error = "WorkerLostError: worker died"
    if pending.update(status=TriggerTaskStatus.RETRYING, error=error, updated_at=now, sent_at=now, countdown=None):
        unit = UnitOfWork()
        TriggerMessage.for_instance(row, attempt=row.attempts, lost=lost).enqueue(unit)
        unit.commit()
    return "interrupted" if interrupted else "lost"


def _max_retries(row: TriggerTaskInstance) -> int:
    """The instance's ``max_retries``: its configuration's, else its class's default."""
    if row.max_retries is not None:
        return int(row.max_retries)
    try:
        cls = import_string(row.target)
    except ImportError:
        return TriggerTask.max_retries
    return int(getattr(cls, "max_retries", TriggerTask.max_retries))


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


def record(row: TriggerTaskInstance, outcome: Succeeded | Retry | Failed, *, attempt: int, lost: int = 0) -> None:
    """The attempt's end in one transaction: status, the retry message or the cascade."""
    now = timezone.now()
    unit = UnitOfWork()
    with transaction.atomic():
        session = TriggerSession.objects.select_for_update().get(pk=row.session_id)
        pending = TriggerTaskInstance.objects.filter(pk=row.pk).exclude(status__in=TRIGGER_TASK_FINISHED)
        if isinstance(outcome, Succeeded):
            if pending.update(status=TriggerTaskStatus.SUCCEEDED, result=outcome.result, error="", traceback="",
                              finished_at=now, updated_at=now):
                fire_locked(session, row.name, outcome.cascade_kwargs, unit=unit, source=FiredTrigger.Source.CASCADE,
                            cascade_of=row)
        elif isinstance(outcome, Failed):
            pending.update(status=TriggerTaskStatus.FAILED, error=outcome.error, traceback=outcome.traceback,
                           finished_at=now, updated_at=now)
        else:
            update: dict[str, Any] = {"status": TriggerTaskStatus.RETRYING, "error": outcome.error, "updated_at": now}
            if outcome.trigger_kwargs is not None:
                update["trigger_kwargs"] = outcome.trigger_kwargs
            update.update(sent_at=now, countdown=outcome.cooldown or None)
            if pending.update(**update):
                TriggerMessage.for_instance(row, attempt=attempt, lost=lost).enqueue(unit, countdown=outcome.cooldown)
        unit.commit()
