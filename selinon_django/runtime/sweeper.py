"""The safety net: messages lost on the way, wake-ups nobody sent, attempts whose process died.

Each worker runs :func:`sweep` every ``SWEEP_INTERVAL`` seconds in a thread of its main process
(:func:`start_in_worker`, hooked to Celery's ``worker_ready``, which also holds the worker's
lock, see :mod:`~selinon_django.runtime.liveness`); on PostgreSQL a transaction-level advisory
lock lets one worker sweep at a time. ``manage.py selinon_outbox_sweep`` runs it once.

A sweep asks the broker first (:mod:`~selinon_django.runtime.broker`): whether it lost its data
(its marker is gone), and, for the queues it is about to resend to, how many messages wait
there. Then it:

1. publishes outbox rows older than ``SWEEP_GRACE`` (their after-commit publish was lost);
2. wakes runs whose safety-net time passed; resends the wake-up of a run pending for
   ``SWEEP_GRACE`` only when it cannot be waiting in the broker (the broker lost its data, or
   the run's dispatcher queue is empty), else after ``LOST_TASK_AFTER`` - a wake-up already
   queued is not sent again, so a backlog is not amplified;
3. resends the message of a task still ``sent``/``retried`` (its countdown over) by the same
   rule: at once when the broker lost its data, after ``SWEEP_GRACE`` when its queue is empty,
   else after ``LOST_TASK_AFTER``; each further resend of one node waits as long as the node had
   already waited (resends back off);
4. runs again (PostgreSQL) a task ``started`` by a process that is gone: its node lock free and
   its worker's lock free for ``SWEEP_GRACE`` (a dead worker, not a database that cut the
   connections) - the message of the lost attempt is resent and the envelope takes the
   lost-worker path (counted in ``LOST_TASK_RETRIES``), whatever the broker's visibility timeout;
5. resends the message of an attempt killed by its hard time limit (Celery acknowledges it);
6. does 2-4 for trigger-task instances: scheduled or retrying ones whose message is gone, and
   started ones whose worker is gone.

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

from selinon_django.conf import SelinonSettings, selinon_settings
from selinon_django.models.definitions import TaskDefinition
from selinon_django.models.outbox import OutboxMessage
from selinon_django.models.runs import FLOW_UNFINISHED_STATUSES, FlowRun, NodeRun, NodeRunStatus
from selinon_django.models.triggers import TriggerTaskInstance, TriggerTaskStatus
from selinon_django.runtime import advisory, liveness, outbox
from selinon_django.runtime.broker import BrokerProbe
from selinon_django.runtime.configs import config_for
from selinon_django.runtime.messages import TaskMessage, TriggerMessage
from selinon_django.runtime.store import run_store
from selinon_django.runtime.unit_of_work import UnitOfWork
from selinon_django.runtime.wakeups import PENDING, mark_pending
from selinon_django.signals import swept

logger = logging.getLogger(__name__)

_SWEEP_LOCK_KEY = 0x5E1_1A0_5EE9  # any constant shared by every worker
_BATCH = 500
#: after the broker lost its data, one sweep resends at most this many batches of each kind
#: (the marker is planted again only when everything was resent)
_LOST_BATCHES = 100

#: what this process saw of the workers' locks (see liveness.Silence)
_silence = liveness.Silence()

_NODE_ROW = ("id", "name", "parent", "node_args", "attempts", "countdown", "sent_at", "updated_at", "started_at",
             "worker", "flow_run_id", "flow_run__flow_name", "flow_run__revision_id")


@dataclass
class SweepReport:
    outbox: int = 0
    wakeups: int = 0
    tasks: int = 0
    triggers: int = 0
    #: the broker's marker was gone: everything in flight was resent
    broker_lost: bool = False


@dataclass
class _Sweep:
    """One sweep's clock, settings and view of the broker."""

    now: datetime
    grace: timedelta
    settings: SelinonSettings
    probe: BrokerProbe | None
    #: the messages the sweep resends, published after its commit
    unit: UnitOfWork
    #: the broker lost its data since the last sweep
    lost: bool = False
    #: more was in flight after a loss than one sweep resends
    incomplete: bool = False

    @property
    def lost_after(self) -> timedelta:
        return timedelta(seconds=self.settings.LOST_TASK_AFTER)

    def queue_empty(self, queue: str | None) -> bool:
        """Nothing waits in ``queue`` (False when the broker did not say)."""
        return self.probe is not None and self.probe.queue_size(queue) == 0

    def message_gone(self, queue: str | None, *, sent_at: datetime, countdown: float | None,
                     first_sent: datetime) -> bool:
        """Whether a message published to ``queue`` at ``sent_at`` with ``countdown`` is to be
        sent again. ``first_sent``: when the message in flight was first issued (the row's
        ``updated_at``); each resend moves ``sent_at`` on, and the wait before the next one
        grows with the time already waited (resends back off)."""
        if self.lost:
            return True
        due_at = sent_at + timedelta(seconds=countdown or 0)
        waited = max(timedelta(0), sent_at - first_sent)
        if self.now >= due_at + max(self.lost_after, waited):
            return True  # whatever the broker says: it may wait behind an endless backlog
        return self.now >= due_at + max(self.grace, waited) and self.queue_empty(queue)


def _try_lock() -> bool:
    """One sweeper at a time: it gives up rather than wait (and tries again next time)."""
    return run_store().try_sweep_lock(_SWEEP_LOCK_KEY)


def sweep(probe: BrokerProbe | None = None) -> SweepReport:
    """One sweep. ``probe``: the broker to ask (workers and ``selinon_outbox_sweep`` pass one;
    without it the sweep knows nothing of the broker and resends by time alone)."""
    settings = selinon_settings()
    report = SweepReport()
    state = _Sweep(now=timezone.now(), grace=timedelta(seconds=settings.SWEEP_GRACE), settings=settings,
                   probe=probe, unit=UnitOfWork())
    with transaction.atomic():
        if not _try_lock():
            return report
        state.lost = bool(probe is not None and probe.lost_its_data())
        report.broker_lost = state.lost
        if state.lost:
            logger.warning("the broker lost its data (its marker is gone): resending everything in flight")
        # 1. outbox rows whose publish was lost
        rows = list(OutboxMessage.objects.stale(state.grace, state.now).locked()[:_BATCH])
        if rows:
            messages = [outbox.Message(r.task_name, r.kwargs, r.options) for r in rows]
            ids = [r.pk for r in rows]
            transaction.on_commit(lambda: outbox.publish_rows(messages, ids))
            report.outbox = len(rows)
        report.wakeups = _wake_runs(state)
        report.tasks = _resend_sent_tasks(state)
        gone = _rerun_gone_tasks(state)
        report.tasks += len(gone)
        report.tasks += _killed_by_time_limit(state, skip=gone)
        report.triggers = _resend_trigger_tasks(state)
        state.unit.commit()
    if state.lost and probe is not None and not state.incomplete:
        probe.plant_marker()  # after the resends were published (on commit, above)
    for receiver, response in swept.send_robust(sender=SweepReport, report=report):
        if isinstance(response, Exception):
            logger.error("swept receiver %r raised %r", receiver, response)
    return report


def _wake_runs(state: _Sweep) -> int:
    """Runs due for a safety-net look, and pending wake-ups that cannot be waiting in the broker."""
    woken = 0
    unfinished = FlowRun.objects.filter(status__in=FLOW_UNFINISHED_STATUSES)
    due = (unfinished.filter(next_wakeup_at__lte=state.now, next_wakeup_at__gt=PENDING).locked(skip_locked=True)
           .values("id", "flow_name", "revision_id", "state_version")[:_BATCH])
    for due_run in due:
        mark_pending(state.unit, due_run["id"], due_run["flow_name"], due_run["revision_id"], due_run["state_version"],
                     reason="sweep")
        woken += 1
    pending = unfinished.filter(next_wakeup_at=PENDING)
    if not state.lost:
        pending = pending.filter(updated_at__lte=state.now - state.grace)
    pending = pending.order_by("updated_at")
    for run in _batches(pending.locked(skip_locked=True), ("id", "flow_name", "revision_id", "state_version",
                                                           "updated_at"), state):
        # (updated_at: when it was marked pending, or resent; a step clears the mark)
        if not state.lost and state.now < run["updated_at"] + state.lost_after:
            queue = config_for(run["revision_id"]).dispatcher_queue(run["flow_name"])
            if not state.queue_empty(queue):
                continue  # it may wait in the queue: not sent again
        mark_pending(state.unit, run["id"], run["flow_name"], run["revision_id"], run["state_version"], reason="sweep")
        woken += 1
    return woken


def _batches(rows: Any, fields: tuple[str, ...], state: _Sweep) -> list[dict[str, Any]]:
    """The rows a sweep looks at: a batch, or after a broker loss everything (in batches)."""
    if not state.lost:
        return list(rows.values(*fields)[:_BATCH])
    found: list[dict[str, Any]] = []
    for number in range(_LOST_BATCHES):
        batch = list(rows.values(*fields)[number * _BATCH:(number + 1) * _BATCH])
        found += batch
        if len(batch) < _BATCH:
            return found
    state.incomplete = True
    return found


def _resend_sent_tasks(state: _Sweep) -> int:
    """Messages of tasks still ``sent``/``retried`` that the broker does not hold any more."""
    nodes = NodeRun.objects.filter(
        kind=NodeRun.Kind.TASK, status__in=[NodeRunStatus.SENT, NodeRunStatus.RETRIED],
        flow_run__status__in=FLOW_UNFINISHED_STATUSES,
    )
    if not state.lost:
        nodes = nodes.filter(sent_at__lte=state.now - state.grace)
    resent = []
    for node in _batches(nodes.order_by("sent_at"), _NODE_ROW, state):
        sent_at = node["sent_at"] or state.now
        due_at = sent_at + timedelta(seconds=node["countdown"] or 0)
        config = config_for(node["flow_run__revision_id"])
        if not state.message_gone(config.task_queue(node["name"]), sent_at=sent_at, countdown=node["countdown"],
                                  first_sent=node["updated_at"]):
            continue
        message = TaskMessage.for_row(node, attempt=node["attempts"])
        remaining = (due_at - state.now).total_seconds()
        # a message lost before its countdown ended keeps what is left of it; no rate-limit
        # slot: this is the message the start took one for
        options = message.options(config, countdown=remaining if remaining > 0 else None, rate_limited=False)
        message.enqueue(state.unit, options, recorded=True)  # (the row says sent)
        resent.append(node["id"])
    if resent:
        NodeRun.objects.filter(pk__in=resent).update(sent_at=state.now, countdown=None)
    return len(resent)


def _gone_workers(state: _Sweep, hostnames: set[str], held: set[int]) -> set[str]:
    return _silence.gone(hostnames, held, state.now, state.grace)


def _rerun_gone_tasks(state: _Sweep) -> set[str]:
    """Tasks ``started`` by a process that is gone (stores with session locks): resend the lost
    attempt's message.

    The envelope finds the node started by that attempt, which never ended, and takes the
    lost-worker path. The message counts every earlier attempt as lost (the counters of the
    messages before it are not kept): a task whose worker keeps dying cannot loop.
    """
    store = run_store()
    if not store.session_locks:
        return set()
    started = NodeRun.objects.filter(kind=NodeRun.Kind.TASK, status=NodeRunStatus.STARTED,
                                     flow_run__status__in=FLOW_UNFINISHED_STATUSES)
    # (a node started outside a Celery worker - no hostname, no worker lock - is left alone)
    hostnames = set(started.filter(updated_at__lte=state.now - state.grace).exclude(worker="")
                    .values_list("worker", flat=True).distinct())
    if not hostnames:
        return set()
    held = store.held_keys()
    gone = _gone_workers(state, hostnames, held)
    if not gone:
        return set()
    rows = (started.filter(worker__in=gone, updated_at__lte=state.now - state.grace).order_by("updated_at")
            .values(*_NODE_ROW)[:_BATCH])
    resent: set[str] = set()
    for node in rows:
        if advisory.key(node["id"]) in held:
            continue  # a live process runs it (its worker lost only the connection of its lock)
        started_at = node["started_at"] or node["updated_at"]
        if state.now < node["updated_at"] + max(state.grace, node["updated_at"] - started_at):
            continue  # resent before: the answer may be on its way (the wait doubles)
        logger.warning("node %s (%s) was started by %s, which is gone: its attempt is sent again",
                       node["id"], node["name"], node["worker"])
        lost = max(0, node["attempts"] - 1)
        message = TaskMessage.for_row(node, attempt=lost, lost=lost)
        # no rate-limit slot: the run again is published by the envelope, which takes one
        message.enqueue(state.unit, message.options(config_for(message.revision_id), rate_limited=False),
                        recorded=True)
        resent.add(node["id"])
    if resent:
        # updated_at (the start, for a started node) moves on: the next sweep waits for the answer
        NodeRun.objects.filter(pk__in=resent, status=NodeRunStatus.STARTED).update(updated_at=state.now)
    return resent


def _killed_by_time_limit(state: _Sweep, *, skip: set[str]) -> int:
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
                               updated_at__lte=state.now - state.grace, flow_run__status__in=FLOW_UNFINISHED_STATUSES)
        .order_by("updated_at").values(*_NODE_ROW)[:_BATCH]
    )
    sent = []
    for node in nodes:
        if node["id"] in skip:
            continue
        config = config_for(node["flow_run__revision_id"])
        task = config.tasks.get(node["name"])
        if task is None or not task.time_limit:
            continue
        started_at = node["started_at"] or node["updated_at"]
        wait = max(timedelta(seconds=float(task.time_limit)) + state.grace, node["updated_at"] - started_at)
        if node["updated_at"] + wait > state.now:
            continue
        lost = max(0, node["attempts"] - 1)
        message = TaskMessage.for_row(node, attempt=lost, lost=lost)
        message.enqueue(state.unit, message.options(config, rate_limited=False), recorded=True)
        sent.append(node["id"])
    if sent:
        NodeRun.objects.filter(pk__in=sent, status=NodeRunStatus.STARTED).update(updated_at=state.now)
    return len(sent)


def _resend_trigger_tasks(state: _Sweep) -> int:
    """Trigger-task instances: a scheduled or retrying one whose message is gone, a started one
    whose worker is gone (the runtime's rules for nodes, see :func:`_resend_sent_tasks` and
    :func:`_rerun_gone_tasks`)."""
    tasks = TriggerTaskInstance.objects.filter(kind=TriggerTaskInstance.Kind.TASK)
    waiting = tasks.filter(status__in=[TriggerTaskStatus.SCHEDULED, TriggerTaskStatus.RETRYING])
    if not state.lost:
        old = state.now - state.grace
        waiting = waiting.filter(Q(sent_at__lte=old) | Q(sent_at=None, updated_at__lte=old))
    fields = ("id", "attempts", "queue", "priority", "sent_at", "countdown", "updated_at")
    resent = []
    for row in _batches(waiting.order_by("updated_at"), fields, state):
        sent_at = row["sent_at"] or row["updated_at"]
        due_at = sent_at + timedelta(seconds=row["countdown"] or 0)
        if not state.message_gone(row["queue"] or None, sent_at=sent_at, countdown=row["countdown"],
                                  first_sent=row["updated_at"]):
            continue
        remaining = (due_at - state.now).total_seconds()
        message = TriggerMessage(row["id"], attempt=row["attempts"], queue=row["queue"] or None,
                                 priority=row["priority"])
        message.enqueue(state.unit, countdown=remaining if remaining > 0 else None, recorded=True)
        resent.append(row["id"])
    if resent:
        TriggerTaskInstance.objects.filter(pk__in=resent).update(sent_at=state.now, countdown=None)
    return len(resent) + _rerun_gone_triggers(state)


def _rerun_gone_triggers(state: _Sweep) -> int:
    store = run_store()
    if not store.session_locks:
        return 0
    started = TriggerTaskInstance.objects.filter(kind=TriggerTaskInstance.Kind.TASK, status=TriggerTaskStatus.STARTED,
                                                 updated_at__lte=state.now - state.grace)
    hostnames = set(started.exclude(worker="").values_list("worker", flat=True).distinct())
    if not hostnames:
        return 0
    held = store.held_keys()
    gone = _gone_workers(state, hostnames, held)
    resent = []
    for row in started.filter(worker__in=gone).values("id", "attempts", "queue", "priority", "started_at",
                                                      "updated_at", "worker")[:_BATCH]:
        if advisory.key(f"trigger:{row['id']}") in held:
            continue
        started_at = row["started_at"] or row["updated_at"]
        if state.now < row["updated_at"] + max(state.grace, row["updated_at"] - started_at):
            continue
        logger.warning("trigger task %s was started by %s, which is gone: its attempt is sent again", row["id"],
                       row["worker"])
        lost = max(0, row["attempts"] - 1)
        TriggerMessage(row["id"], attempt=lost, lost=lost, queue=row["queue"] or None,
                       priority=row["priority"]).enqueue(state.unit, recorded=True)
        resent.append(row["id"])
    if resent:
        TriggerTaskInstance.objects.filter(pk__in=resent, status=TriggerTaskStatus.STARTED).update(
            updated_at=state.now)
    return len(resent)


_thread: threading.Thread | None = None
_stop = threading.Event()


def _loop(interval: float) -> None:
    while not _stop.wait(interval):
        probe = BrokerProbe()
        try:
            close_old_connections()
            report = sweep(probe)
            if report.outbox or report.wakeups or report.tasks or report.triggers:
                logger.info("sweep: %s", report)
        except Exception:
            logger.warning("sweep failed", exc_info=True)
            with contextlib.suppress(Exception):
                connection.close()
        finally:
            probe.close()
    connection.close()


def start_in_worker(sender: Any = None, **_: Any) -> None:
    """``worker_ready`` handler: hold the worker's lock (``sender`` is Celery's consumer, whose
    hostname its tasks record), and sweep periodically in a daemon thread of the worker."""
    global _thread
    hostname = getattr(sender, "hostname", None)
    if hostname:
        liveness.hold(str(hostname))
    interval = selinon_settings().SWEEP_INTERVAL
    if interval <= 0 or (_thread is not None and _thread.is_alive()):
        return
    _stop.clear()
    _thread = threading.Thread(target=_loop, args=(interval,), name="selinon-sweeper", daemon=True)
    _thread.start()


def stop_in_worker(**_: Any) -> None:
    _stop.set()
