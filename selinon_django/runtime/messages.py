"""The runtime's Celery messages: what each one carries, and the options it is published with.

The dispatcher message keeps Selinon's shape (``flow_name, node_args, parent, retried_count,
retry, selective, migration_version, state``) plus ``run_id`` and ``state_version``. The row is
authoritative: a dispatcher only reads ``run_id`` and treats everything else as a hint, so a
stale or duplicated message is a harmless wake-up. Wake-ups (a node finished, a safety-net
look) therefore carry only the identifying keys; the full shape goes with the first message of a
run, where it documents what the run was started with.

A task message (:class:`TaskMessage`) carries what Selinon's task envelope receives
(``task_name, flow_name, parent, node_args, dispatcher_id``), the revision and the attempt
counters the envelope decides on; its Celery task id is the node id.

**Every node message is published with the options of** :func:`task_options` - queue, countdown
(delayed to the task's next rate-limit slot), time limits, priority - whichever path sends it:
a step's first start, a batch, a retry, the lost-worker resend, the "busy" re-check, the
sweeper. A second attempt without the task's ``time_limit`` would hang its worker for good.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from django.db import connection, transaction

from selinon_django.config.model import SystemConfig
from selinon_django.runtime import outbox
from selinon_django.runtime.continuations import BATCH_KEY
from selinon_django.runtime.rate_limits import rate_limited_countdown
from selinon_django.runtime.unit_of_work import UnitOfWork

#: registered names of the runtime's Celery tasks (stable: they are in queued messages)
DISPATCHER_TASK = "selinon_django.dispatcher"
NODE_TASK = "selinon_django.task"
TRIGGER_TASK = "selinon_django.trigger_task"

#: the attempt counters a task message carries (all default 0)
COUNTERS = ("attempt", "retried_count", "user_retries", "lost")
#: a message handed back after a database error: the attempt its node was started by ended
#: there, in a live process (see :meth:`TaskMessage.interrupted`)
INTERRUPTED_KEY = "interrupted"


def dispatcher_kwargs(
    run_id: str,
    flow_name: str,
    *,
    state_version: int = 0,
    reason: str = "wakeup",
    full: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Kwargs of a dispatcher message; ``full`` adds Selinon's keys (first message of a run)."""
    kwargs: dict[str, Any] = {
        "run_id": run_id,
        "flow_name": flow_name,
        "state_version": state_version,
        "reason": reason,
    }
    if full:
        kwargs.update(full)
    return kwargs


def task_kwargs(
    *, flow_name: str, task_name: str, parent: Any, node_args: Any, dispatcher_id: str, revision_id: int
) -> dict[str, Any]:
    return {
        "flow_name": flow_name,
        "task_name": task_name,
        "parent": parent,
        "node_args": node_args,
        "dispatcher_id": dispatcher_id,
        "revision_id": revision_id,
    }


@dataclass(frozen=True)
class CeleryOptions:
    """``apply_async`` options of one message (None: left to Celery)."""

    task_id: str
    queue: str | None = None
    countdown: float | None = None
    time_limit: float | None = None
    soft_time_limit: float | None = None
    priority: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def task_options(config: SystemConfig, task_name: str, node_id: str, *, countdown: float | None = None,
                 rate_limited: bool = True) -> CeleryOptions:
    """The Celery options of a message of ``task_name``'s node ``node_id``, from the configuration.

    ``countdown``: the message's own delay (a retry's, a throttled start's); with
    ``rate_limited`` it is pushed to the task's next free ``rate_limit`` slot, which this
    reserves (a row lock held until the caller's transaction ends, see
    :mod:`~selinon_django.runtime.rate_limits`). A message that starts nothing - the "busy"
    re-check of a node running elsewhere - passes ``rate_limited=False``: it must not use up a
    slot. Time limits and priority go with every message: Celery applies them per message.
    """
    task = config.tasks[task_name]
    if rate_limited and task.rate_limit:
        if connection.in_atomic_block:
            countdown = rate_limited_countdown(task_name, task.rate_limit, countdown)
        else:  # (a resend outside a transaction: the slot's row lock needs one)
            with transaction.atomic():
                countdown = rate_limited_countdown(task_name, task.rate_limit, countdown)
    return CeleryOptions(
        task_id=node_id, queue=config.task_queue(task_name), countdown=countdown or None,
        time_limit=task.time_limit, soft_time_limit=task.soft_time_limit, priority=task.priority,
    )


@dataclass(frozen=True)
class TaskMessage:
    """The message of one node's attempt (the Celery task id is ``node_id``).

    Counters: ``attempt`` - the node's ``attempts`` when the message was issued (an older
    message is a stale duplicate); ``retried_count`` - retries counted against ``max_retry``;
    ``user_retries`` - ``self.retry()`` calls; ``lost`` - attempts whose process died;
    ``interrupted`` - the attempt that started the node ended with a database error in a live
    process (the message was handed back, not lost: see :mod:`~selinon_django.runtime.celery_tasks`).
    ``batch``: the nodes the message carries after its own (see
    :mod:`~selinon_django.runtime.continuations`).
    """

    node_id: str
    flow_name: str
    task_name: str
    parent: Any
    node_args: Any
    dispatcher_id: str
    revision_id: int
    attempt: int = 0
    retried_count: int = 0
    user_retries: int = 0
    lost: int = 0
    interrupted: bool = False
    batch: tuple[dict[str, Any], ...] = field(default=())

    @classmethod
    def from_kwargs(cls, node_id: str, kwargs: dict[str, Any]) -> TaskMessage:
        """The message a worker received as ``kwargs`` (keys it does not know are dropped)."""
        return cls(
            node_id=node_id, flow_name=kwargs["flow_name"], task_name=kwargs["task_name"],
            parent=kwargs.get("parent"), node_args=kwargs.get("node_args"), dispatcher_id=kwargs["dispatcher_id"],
            revision_id=int(kwargs["revision_id"]),
            **{name: int(kwargs.get(name, 0) or 0) for name in COUNTERS},
            interrupted=bool(kwargs.get(INTERRUPTED_KEY)), batch=tuple(kwargs.get(BATCH_KEY) or ()),
        )

    @classmethod
    def for_row(cls, row: Mapping[str, Any], **counters: Any) -> TaskMessage:
        """The message of a node-run row read as ``values("id", "name", "parent", "node_args",
        "flow_run_id", "flow_run__flow_name", "flow_run__revision_id")``."""
        return cls(
            node_id=row["id"], flow_name=row["flow_run__flow_name"], task_name=row["name"], parent=row["parent"],
            node_args=row["node_args"], dispatcher_id=row["flow_run_id"], revision_id=row["flow_run__revision_id"],
            **counters,
        )

    def kwargs(self) -> dict[str, Any]:
        """The Celery task's kwargs (counters only when not 0: a first start carries none)."""
        kwargs = task_kwargs(
            flow_name=self.flow_name, task_name=self.task_name, parent=self.parent, node_args=self.node_args,
            dispatcher_id=self.dispatcher_id, revision_id=self.revision_id,
        )
        for name in COUNTERS:
            if getattr(self, name):
                kwargs[name] = getattr(self, name)
        if self.interrupted:
            kwargs[INTERRUPTED_KEY] = True
        if self.batch:
            kwargs[BATCH_KEY] = list(self.batch)
        return kwargs

    def options(self, config: SystemConfig, *, countdown: float | None = None,
                rate_limited: bool = True) -> CeleryOptions:
        """This message's options (:func:`task_options`)."""
        return task_options(config, self.task_name, self.node_id, countdown=countdown, rate_limited=rate_limited)

    def enqueue(self, unit: UnitOfWork, options: CeleryOptions, *, recorded: bool) -> outbox.Message:
        """Into ``unit``, published after its commit (``recorded``: a row the unit writes lets the
        sweeper resend it)."""
        return unit.enqueue(NODE_TASK, self.kwargs(), recorded=recorded, **options.as_dict())

    def publish(self, options: CeleryOptions) -> None:
        """Now, outside any transaction (a re-check, or a resend whose row already says so); a
        broker that refuses it leaves it as an outbox row for the sweeper."""
        outbox.publish_rows([outbox.Message(NODE_TASK, self.kwargs(), options.as_dict(), recorded=True)], [])


@dataclass(frozen=True)
class TriggerMessage:
    """The message of a trigger-task instance's attempt (the Celery task id is ``instance_id``).

    ``attempt``: the instance's ``attempts`` when the message was issued; ``lost``: attempts
    whose process died (capped like a node's, ``LOST_TASK_RETRIES``); ``interrupted``: as for
    :class:`TaskMessage`. ``queue`` and ``priority`` come from the trigger configuration (a
    trigger task is a class named in ``triggers:``, not a task of the flows' configuration).
    """

    instance_id: str
    attempt: int = 0
    lost: int = 0
    interrupted: bool = False
    queue: str | None = None
    priority: int | None = None

    @classmethod
    def for_instance(cls, instance: Any, *, attempt: int, lost: int = 0) -> TriggerMessage:
        """The message of a ``TriggerTaskInstance`` row's next attempt."""
        return cls(instance_id=instance.pk, attempt=attempt, lost=lost, queue=instance.queue or None,
                   priority=instance.priority)

    def kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"instance_id": self.instance_id, "attempt": self.attempt}
        if self.lost:
            kwargs["lost"] = self.lost
        if self.interrupted:
            kwargs[INTERRUPTED_KEY] = True
        return kwargs

    def options(self, *, countdown: float | None = None) -> CeleryOptions:
        return CeleryOptions(task_id=self.instance_id, queue=self.queue, countdown=countdown or None,
                             priority=self.priority)

    def enqueue(self, unit: UnitOfWork, *, countdown: float | None = None, recorded: bool = False) -> outbox.Message:
        """Into ``unit``, published after its commit (``recorded``: the caller writes the
        instance's ``sent_at``, from which the sweeper resends it; else it gets an outbox row)."""
        return unit.enqueue(TRIGGER_TASK, self.kwargs(), recorded=recorded,
                            **self.options(countdown=countdown).as_dict())

    def publish(self, *, countdown: float | None = None) -> None:
        """Now, outside any transaction (a "busy" re-check)."""
        outbox.publish_rows([outbox.Message(TRIGGER_TASK, self.kwargs(), self.options(countdown=countdown).as_dict(),
                                            recorded=True)], [])
