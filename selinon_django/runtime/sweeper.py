"""The safety net: messages lost on the way, and wake-ups nobody sent.

Each worker runs :func:`sweep` every ``SWEEP_INTERVAL`` seconds in a thread of its main process
(:func:`start_in_worker`, hooked to Celery's ``worker_ready``); on PostgreSQL a transaction-level
advisory lock lets one worker sweep at a time. ``manage.py selinon_outbox_sweep`` runs it once.

A sweep:

1. publishes outbox rows older than ``SWEEP_GRACE`` (their after-commit publish was lost);
2. wakes runs whose safety-net time passed, or whose pending wake-up went unanswered for
   ``SWEEP_GRACE`` (the message was lost, say with a broker that restarted without its data);
3. resends the message of nodes still ``sent``/``retried`` after ``LOST_TASK_AFTER`` seconds.

Everything it sends may be a duplicate; the dispatcher and the envelope make duplicates harmless.
"""
from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from selinon_django.conf import selinon_settings
from selinon_django.models.definitions import TaskDefinition
from selinon_django.models.outbox import OutboxMessage
from selinon_django.models.runs import FLOW_UNFINISHED_STATUSES, FlowRun, NodeRun, NodeRunStatus
from selinon_django.runtime import outbox
from selinon_django.runtime.configs import config_for
from selinon_django.runtime.messages import NODE_TASK, task_kwargs
from selinon_django.runtime.wakeups import PENDING, mark_pending
from selinon_django.signals import swept

logger = logging.getLogger(__name__)

_SWEEP_LOCK_KEY = 0x5E1_1A0_5EE9  # any constant shared by every worker
_BATCH = 500


@dataclass
class SweepReport:
    outbox: int = 0
    wakeups: int = 0
    tasks: int = 0


def _try_lock() -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        # A background sweep never waits for locks: it gives up (and tries again next time)
        # rather than queue behind, or deadlock with, a migration or a TRUNCATE.
        cursor.execute("SET LOCAL lock_timeout = '200ms'")
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_SWEEP_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def sweep() -> SweepReport:
    settings = selinon_settings()
    report = SweepReport()
    now = timezone.now()
    grace = timedelta(seconds=settings.SWEEP_GRACE)
    with transaction.atomic():
        if not _try_lock():
            return report
        # 1. outbox rows whose publish was lost
        rows = list(OutboxMessage.objects.stale(grace, now).locked()[:_BATCH])
        if rows:
            messages = [outbox.Message(r.task_name, r.kwargs, r.options) for r in rows]
            ids = [r.pk for r in rows]
            transaction.on_commit(lambda: outbox.publish_rows(messages, ids))
            report.outbox = len(rows)
        # 2. runs due for a look
        due = (
            FlowRun.objects.filter(status__in=FLOW_UNFINISHED_STATUSES)
            .filter(
                Q(next_wakeup_at__lte=now, next_wakeup_at__gt=PENDING)
                | Q(next_wakeup_at=PENDING, updated_at__lte=now - grace)
            )
            .locked(skip_locked=True)
            .values("id", "flow_name", "revision_id", "state_version")[:_BATCH]
        )
        for run in due:
            mark_pending(run["id"], run["flow_name"], run["revision_id"], run["state_version"], reason="sweep")
            report.wakeups += 1
        # 3. task messages lost by the broker
        lost_after = now - timedelta(seconds=settings.LOST_TASK_AFTER)
        nodes = (
            NodeRun.objects.filter(kind=NodeRun.Kind.TASK, status__in=[NodeRunStatus.SENT, NodeRunStatus.RETRIED],
                                   sent_at__lte=lost_after, flow_run__status__in=FLOW_UNFINISHED_STATUSES)
            .select_related("flow_run")
            .only("id", "name", "parent", "node_args", "attempts", "countdown", "sent_at", "flow_run__flow_name",
                  "flow_run__revision_id")
            .order_by("sent_at")[:_BATCH]
        )
        resent = []
        for node in nodes:
            sent_at = node.sent_at or now
            if node.countdown and sent_at + timedelta(seconds=node.countdown) > lost_after:
                continue  # a countdown message still on its way (a retry in ten minutes, say)
            config = config_for(node.flow_run.revision_id)
            kwargs = task_kwargs(
                flow_name=node.flow_run.flow_name, task_name=node.name, parent=node.parent,
                node_args=node.node_args, dispatcher_id=node.flow_run_id, revision_id=node.flow_run.revision_id,
            )
            kwargs["attempt"] = node.attempts
            kwargs["user_retries"] = node.attempts  # neutral: nothing known to have crashed
            outbox.enqueue(NODE_TASK, kwargs, task_id=node.id, queue=config.task_queue(node.name), recorded=True)
            resent.append(node.id)
            report.tasks += 1
        if resent:
            NodeRun.objects.filter(pk__in=resent).update(sent_at=now, countdown=None)
        # 4. attempts killed by a hard time limit (Celery acknowledges their message: no redelivery)
        report.tasks += _killed_by_time_limit(now, grace)
        outbox.flush()
    for receiver, response in swept.send_robust(sender=SweepReport, report=report):
        if isinstance(response, Exception):
            logger.error("swept receiver %r raised %r", receiver, response)
    return report


def _killed_by_time_limit(now: datetime, grace: timedelta) -> int:
    """Resend the message of nodes still ``started`` ``grace`` after their task's ``time_limit``
    (counted from ``updated_at``: the start, or this sweep's last resend).

    Celery kills such an attempt and acknowledges its message, so no redelivery would ever tell
    the envelope. The message sent here is the killed attempt's (``attempt`` = attempts - 1): the
    envelope finds the node started by it and takes the lost-worker path (run again, or fail once
    the attempts exceed the lost-task cap - every earlier attempt is counted as lost, so a task
    that always overruns cannot loop).
    """
    # only tasks that have a time limit in some revision: thousands of long tasks without one
    # (started long ago, so first by age) must not hide the few that have one
    limited = list(TaskDefinition.objects.filter(options__has_key="time_limit").values_list("name", flat=True)
                   .distinct())
    if not limited:
        return 0
    nodes = (
        NodeRun.objects.filter(kind=NodeRun.Kind.TASK, status=NodeRunStatus.STARTED, name__in=limited,
                               updated_at__lte=now - grace, flow_run__status__in=FLOW_UNFINISHED_STATUSES)
        .select_related("flow_run")
        .only("id", "name", "parent", "node_args", "attempts", "updated_at", "flow_run__flow_name",
              "flow_run__revision_id")
        .order_by("updated_at")[:_BATCH]
    )
    sent = []
    for node in nodes:
        task = config_for(node.flow_run.revision_id).tasks.get(node.name)
        if task is None or not task.time_limit:
            continue
        if node.updated_at + timedelta(seconds=float(task.time_limit)) + grace > now:
            continue
        config = config_for(node.flow_run.revision_id)
        kwargs = task_kwargs(
            flow_name=node.flow_run.flow_name, task_name=node.name, parent=node.parent,
            node_args=node.node_args, dispatcher_id=node.flow_run_id, revision_id=node.flow_run.revision_id,
        )
        kwargs["attempt"] = max(0, node.attempts - 1)
        kwargs["lost"] = max(0, node.attempts - 1)
        outbox.enqueue(NODE_TASK, kwargs, task_id=node.id, queue=config.task_queue(node.name),
                       time_limit=task.time_limit, soft_time_limit=task.soft_time_limit, recorded=True)
        sent.append(node.id)
    if sent:
        # updated_at (the start, for a started node) moves on: the next sweep waits for the answer
        NodeRun.objects.filter(pk__in=sent, status=NodeRunStatus.STARTED).update(updated_at=now)
    return len(sent)


_thread: threading.Thread | None = None
_stop = threading.Event()


def _loop(interval: float) -> None:
    while not _stop.wait(interval):
        try:
            close_old_connections()
            report = sweep()
            if report.outbox or report.wakeups or report.tasks:
                logger.info("sweep: %s", report)
        except Exception:
            logger.warning("sweep failed", exc_info=True)
            with contextlib.suppress(Exception):
                connection.close()
    connection.close()


def start_in_worker(**_: Any) -> None:
    """``worker_ready`` handler: sweep periodically in a daemon thread of the worker."""
    global _thread
    interval = selinon_settings().SWEEP_INTERVAL
    if interval <= 0 or (_thread is not None and _thread.is_alive()):
        return
    _stop.clear()
    _thread = threading.Thread(target=_loop, args=(interval,), name="selinon-sweeper", daemon=True)
    _thread.start()


def stop_in_worker(**_: Any) -> None:
    _stop.set()
