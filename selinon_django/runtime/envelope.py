"""The task envelope: claim a node, run one attempt, record the outcome and wake the flow.

Delivery is at least once (late acknowledgement, redelivery after a lost worker, duplicated
publishes), so every step is safe to repeat:

1. *claim* - on PostgreSQL a session advisory lock on the node id says "a live process runs
   this node": a second delivery that cannot take it re-checks later instead of running the node
   twice (and is never acknowledged away while the first might still die). A node already
   succeeded, failed or revoked is a duplicate: dropped. (SQLite, the embedded demo, serialises
   writers, so the status check in the claim transaction is enough there.)
2. *start* - attempts + 1, status ``started``, worker and time, committed *before* running, so
   an attempt that kills its process is counted: a node found ``started`` by its next delivery
   died with its worker. It is run again (at least ``LOST_TASK_RETRIES`` times, more if
   ``max_retry`` allows) and then failed without running: no endless redelivery.
3. *run* - :func:`selinon_django.runtime.execution.run_attempt`.
4. *record* - final status (or ``retried`` and the retry message) and the flow's wake-up,
   all-or-nothing, in the cheapest of three ways (on PostgreSQL; elsewhere the third):

   - *optimistic* (:func:`_record_optimistic`): the claim also read the flow run; the next step
     is computed from that reading and written with the node's end in one statement guarded by
     the run's ``state_version`` - a chain's hop is two statements, claim included;
   - *fan-in* (:func:`_record_fan_in`): a task of a big run writes its end and the run's pending
     mark in one statement and leaves the step to a dispatcher;
   - *locked* (:func:`_record`): a transaction that locks the flow-run row, then steps the flow
     inline or sends its dispatcher a message (a lost optimistic race ends here too).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from selinon_django.conf import selinon_settings
from selinon_django.models.runs import NODE_FINISHED_STATUSES, FlowRun, FlowRunStatus, NodeRun, NodeRunStatus
from selinon_django.runtime import advisory, continuations, messages, observers, tracing
from selinon_django.runtime.configs import config_for
from selinon_django.runtime.dispatcher import finish_and_wake, revoke_unstarted, step_optimistic
from selinon_django.runtime.execution import Failed, Retry, Succeeded, failed_without_running, run_attempt
from selinon_django.runtime.results import announce_outcome
from selinon_django.runtime.store import GuardFailed, run_store
from selinon_django.runtime.unit_of_work import UnitOfWork
from selinon_django.runtime.wakeups import PENDING, finish_fan_in
from selinon_django.storages.base import StoredTaskError
from selinon_django.storages.pool import StoragePool

logger = logging.getLogger(__name__)

#: a flow run's state stored bigger than this is not read by the claim (a big foreach's state
#: is tens of kilobytes, compressed out of line: reading it for every task would cost more than
#: the optimistic step saves, and such runs step on the dispatcher anyway)
SNAPSHOT_MAX_BYTES = 32_768

#: seconds before a delivery that found its node running elsewhere looks again
BUSY_RECHECK = 3.0

_FINISHED = [status.value for status in NODE_FINISHED_STATUSES]
#: the node-run row of an attempt that has not ended (parameters: node id, :data:`_FINISHED`)
_UNFINISHED_NODE = "id = %s AND NOT (status = ANY(%s))"


def _unfinished_node(node_id: str) -> Any:
    """:data:`_UNFINISHED_NODE` as a queryset (other databases, the locked path)."""
    return NodeRun.objects.filter(pk=node_id).exclude(status__in=NODE_FINISHED_STATUSES)


@dataclass(frozen=True)
class EnvelopeResult:
    """What happened to one delivery (for logs and tests)."""

    action: str  # "ran", "duplicate", "busy", "unknown", "lost-too-often"
    status: str | None = None


def _lock_key(node_id: str) -> int:
    return advisory.key(node_id)


@contextmanager
def node_lock(node_id: str) -> Iterator[bool]:
    """A session lock on the node id (always granted by a store without session locks)."""
    store = run_store()
    if not store.session_locks:
        yield True
        return
    key = _lock_key(node_id)
    acquired = store.try_lock(key)
    try:
        yield acquired
    finally:
        if acquired:
            _unlock(key, node_id)


def handle_message(node_id: str, kwargs: dict[str, Any], *, hostname: str = "", queue: str | None = None,
                   time_limited: bool = False) -> EnvelopeResult:
    """Serve one task message (the Celery task calls this).

    ``queue``: the queue the message came from, and ``time_limited``: whether Celery limits its
    time - on PostgreSQL, successors on that queue may run here at once when the message has no
    time limit (see :mod:`~selinon_django.runtime.continuations`). The nodes the message carries
    after its own (a batched message) are served next, one by one, as their own messages would
    be. The result is the message's own node's.
    """
    own, carried = continuations.unbatched(kwargs)
    if time_limited and carried:
        # Celery's limit is the message's: the nodes it lists get messages of their own
        for item_id, item_kwargs in carried:
            _resend(item_id, item_kwargs, countdown=None, rate_limited=True)
        carried = []
    result = _serve(node_id, own, hostname, queue, time_limited, walked=[item_id for item_id, _ in carried])
    for item_id, item_kwargs in carried:
        _serve(item_id, item_kwargs, hostname, queue, time_limited, carrier=node_id)
    return result


def _serve(node_id: str, kwargs: dict[str, Any], hostname: str, queue: str | None, time_limited: bool, *,
           carrier: str | None = None, walked: list[str] | None = None) -> EnvelopeResult:
    """One node of a message (``carrier``: the message's node when it is not this one; ``walked``:
    the nodes the message carries, served next)."""
    if run_store().session_locks:
        offer = continuations.offer(queue=queue, hostname=hostname, carrier=carrier or node_id,
                                    time_limited=time_limited)
        return _claim_in_one_statement(node_id, kwargs, hostname, offer, carrier=carrier, walked=walked, queue=queue)
    with node_lock(node_id) as acquired:
        if not acquired:
            _resend(node_id, kwargs, countdown=BUSY_RECHECK, rate_limited=False)
            return EnvelopeResult("busy")
        return _claim_and_run(node_id, kwargs, hostname, carrier=carrier, queue=queue)


class _HeldLock(threading.local):
    """The lock of the last node this thread finished, kept until its next claim.

    Releasing it costs a round trip; keeping it is harmless once the node's final status is
    committed (a duplicate that cannot take the lock sees the status and is dropped), so the
    next claim releases it in its own statement. Locks of unfinished nodes (a retry, a lost
    attempt) are released at once: their next message may arrive anywhere.
    """

    def __init__(self) -> None:
        self.key: int | None = None
        self.connection: Any = None

    def take(self) -> int | None:
        """The held key if this thread's connection is still the one that holds it."""
        key, held_on = self.key, self.connection
        self.key = self.connection = None
        return key if key is not None and held_on is not None and held_on is connection.connection else None


_held = _HeldLock()


def _claim_in_one_statement(node_id: str, kwargs: dict[str, Any], hostname: str,
                          offer: continuations.Continuation | None = None, *, carrier: str | None = None,
                          walked: list[str] | None = None, queue: str | None = None) -> EnvelopeResult:
    key = _lock_key(node_id)
    expected = int(kwargs.get("attempt", 0))
    settings = selinon_settings()
    params: dict[str, Any] = {
        "key": key, "previous": _held.take(), "id": node_id, "started": NodeRunStatus.STARTED.value,
        "worker": hostname[:255], "carrier": carrier,
        "now": timezone.now(), "expected": expected, "finished": _FINISHED,
        "running": FlowRunStatus.RUNNING.value, "pending": PENDING,
        "snapshot_limit": settings.INLINE_STEP_MAX_ACTIVE if settings.INLINE_STEPS else -1,
        "snapshot_bytes": SNAPSHOT_MAX_BYTES,
    }
    claim = run_store().claim(params)  # lock, read, mark started, read the run: one round trip
    got, status, run_id, sent_at, countdown = claim.got, claim.status, claim.run_id, claim.sent_at, claim.countdown
    result = None
    held: int | None = key if got else None  # the lock this delivery holds now
    try:
        if not got:
            if status in NODE_FINISHED_STATUSES:
                _dropped(node_id, kwargs, hostname, status)
                return EnvelopeResult("duplicate", status)
            _resend(node_id, kwargs, countdown=BUSY_RECHECK, rate_limited=False)
            return EnvelopeResult("busy")
        if status is None:
            return EnvelopeResult("unknown")
        if status in NODE_FINISHED_STATUSES:
            # a duplicate, or this message delivered again after its process died while it
            # ran nodes it carries: those get messages of their own (the ones it lists are served next)
            if carrier is None:
                _resume_carried(node_id, run_id, walked or [], interrupted=bool(kwargs.get(messages.INTERRUPTED_KEY)))
            _dropped(node_id, kwargs, hostname, status)
            return EnvelopeResult("duplicate", status)
        if claim.started:
            result = _run_started(node_id, run_id, kwargs, hostname, snapshot=claim.snapshot,
                                  fan_in=claim.big or not settings.INLINE_STEPS, continuation=offer,
                                  delivery=_Delivery(queue, carrier, sent_at, countdown))
            while offer is not None and offer.node_id is not None:
                # the statement that recorded the end released that node's lock and took this one's
                held = _lock_key(offer.node_id) if offer.locked else None
                following = offer.next()
                result = None  # (if this one raises, its lock is released below)
                result = _run_started(offer.node_id, run_id, offer.kwargs, hostname, snapshot=offer.snapshot,
                                      continuation=following,
                                      delivery=_Delivery(queue, offer.carrier, inline=True))
                offer = following
        else:
            # not this attempt: classify it
            result = _claim_and_run(node_id, kwargs, hostname, carrier=carrier, queue=queue)
        return result
    finally:
        if held is not None:
            if result is not None and result.status in NODE_FINISHED_STATUSES:
                _held.key, _held.connection = held, connection.connection
            else:
                _unlock(held, node_id)


def _resume_carried(node_id: str, run_id: str, walked: list[str], *, interrupted: bool = False) -> None:
    """Publish a message for each node this message carried whose process died while it ran:
    ``started``, and its advisory lock free (a live process holds it). Nodes the message lists
    (``walked``) are left to its walk.

    Its next delivery finds it started by an attempt that never ended and takes the
    lost-worker path (:func:`_claim_and_run`) - unless this message came back after a database
    error (``interrupted``): then the process did not die, and the node runs again uncounted.
    Runs only for deliveries of finished nodes.
    """
    carried = NodeRun.objects.filter(flow_run_id=run_id, carried_by=node_id, status=NodeRunStatus.STARTED).exclude(
        pk__in=walked).values(
        "id", "name", "parent", "node_args", "attempts", "flow_run_id", "flow_run__flow_name", "flow_run__revision_id",
    )
    for row in carried:
        with node_lock(row["id"]) as free:
            if not free:
                continue  # still running in a live process
        logger.warning("node %s was running inline under %s when its process died: sent again", row["id"], node_id)
        message = messages.TaskMessage.for_row(row, attempt=row["attempts"] - 1, interrupted=interrupted)
        message.publish(message.options(config_for(message.revision_id)))


def _unlock(key: int, node_id: str) -> None:
    try:
        run_store().unlock(key)
    except Exception:  # the connection died: the server released the lock with it
        logger.debug("advisory unlock of %s failed", node_id, exc_info=True)


def _resend(node_id: str, kwargs: dict[str, Any], *, countdown: float | None, rate_limited: bool) -> None:
    """Publish ``kwargs`` again as the node's message, with its task's options (``rate_limited``:
    the message may start the node, so it takes a rate-limit slot; a "busy" re-check does not)."""
    message = messages.TaskMessage.from_kwargs(node_id, kwargs)
    message.publish(message.options(config_for(message.revision_id), countdown=countdown, rate_limited=rate_limited))


def _claim_and_run(node_id: str, kwargs: dict[str, Any], hostname: str, *,
                   carrier: str | None = None, queue: str | None = None) -> EnvelopeResult:
    """Claim, run, record. The message's counters (all default 0):

    ``attempt`` - the node's ``attempts`` when the message was issued (an older message is a
    stale duplicate); ``retried_count`` - retries counted against ``max_retry``;
    ``user_retries`` - ``self.retry()`` calls; ``lost`` - attempts whose process died.
    """
    settings = selinon_settings()
    expected = int(kwargs.get("attempt", 0))
    retried_count = int(kwargs.get("retried_count", 0))
    lost = int(kwargs.get("lost", 0))
    with transaction.atomic():
        node = (
            NodeRun.objects.locked()
            .filter(pk=node_id)
            .values("status", "attempts", "flow_run_id", "received_at", "sent_at", "countdown")
            .first()
        )
        if node is None:
            return EnvelopeResult("unknown")
        if node["status"] in NODE_FINISHED_STATUSES:
            _dropped(node_id, kwargs, hostname, node["status"])
            return EnvelopeResult("duplicate", node["status"])
        config = config_for(int(kwargs["revision_id"]))
        task = config.tasks[kwargs["task_name"]]
        if node["status"] == NodeRunStatus.STARTED and node["attempts"] == expected + 1:
            if kwargs.get(messages.INTERRUPTED_KEY):
                # This message's attempt started, then its process met a database error and
                # handed the message back (celery_tasks): not a dead worker, nothing counted.
                _record(node_id, node["flow_run_id"], dict(kwargs, attempt=node["attempts"]),
                        Retry(countdown=0, counted=False, exception="DatabaseError: the attempt could not be "
                              "recorded (database unreachable); run again"), config, count_retry=False)
                return EnvelopeResult("interrupted", NodeRunStatus.RETRIED)
            # This message's attempt started and never recorded an end: its process died.
            lost += 1
            if retried_count + lost > max(task.max_retry, settings.LOST_TASK_RETRIES):
                refused = failed_without_running(
                    f"WorkerLostError: the worker running this task died {lost} time(s)"
                )
                if observers.watching:
                    observers.attempt_lost(kwargs["flow_name"], kwargs["task_name"], failed=True)
                _record(node_id, node["flow_run_id"], kwargs, refused, config)
                return EnvelopeResult("lost-too-often", NodeRunStatus.FAILED)
            # Issue a new message for the next attempt (a redelivered message cannot be told
            # from its own duplicate, a new one can) and drop this one.
            _record(node_id, node["flow_run_id"], dict(kwargs, lost=lost, attempt=node["attempts"]),
                    Retry(countdown=0, counted=False, exception="WorkerLostError: worker died"), config,
                    count_retry=False)
            if observers.watching:
                observers.attempt_lost(kwargs["flow_name"], kwargs["task_name"], failed=False)
            return EnvelopeResult("lost", NodeRunStatus.RETRIED)
        if node["attempts"] != expected:
            return EnvelopeResult("duplicate", node["status"])
        now = timezone.now()
        update: dict[str, Any] = {"status": NodeRunStatus.STARTED, "attempts": node["attempts"] + 1,
                                  "worker": hostname[:255], "started_at": now, "updated_at": now,
                                  "carried_by": carrier}  # the message that runs it now
        if node["received_at"] is None:
            update["received_at"] = now
        NodeRun.objects.filter(pk=node_id).update(**update)
    return _run_started(node_id, node["flow_run_id"], kwargs, hostname,
                        delivery=_Delivery(queue, carrier, node["sent_at"], node["countdown"]))


@dataclass(frozen=True)
class _Delivery:
    """How an attempt reached this process, for monitoring (:mod:`~selinon_django.runtime.observers`):
    the queue its message came from, the message's node when not its own, when it was sent."""

    queue: str | None = None
    carrier: str | None = None
    sent_at: Any = None
    countdown: float | None = None
    inline: bool = False


def _dropped(node_id: str, kwargs: dict[str, Any], hostname: str, status: str) -> None:
    """A delivery of a finished node is dropped; one of a revoked node is told to the observers."""
    if observers.watching and status == NodeRunStatus.REVOKED:
        observers.delivery_revoked(node_id, kwargs["task_name"], hostname)


def _run_started(node_id: str, run_id: str, kwargs: dict[str, Any], hostname: str,
                 snapshot: FlowRun | None = None, fan_in: bool = False,
                 continuation: continuations.Continuation | None = None,
                 delivery: _Delivery = _Delivery()) -> EnvelopeResult:
    """Run the attempt this message just marked started, and record its end (``snapshot``: the
    flow run as read when the attempt started, for an optimistic step; ``fan_in``: the run is
    too big for inline steps, see :func:`_record_fan_in`; ``continuation``: the offer to run a
    successor here, taken by an optimistic step; ``delivery``: how it came, for the observers)."""
    if not observers.watching:
        return _attempt(node_id, run_id, kwargs, snapshot, fan_in, continuation)
    if delivery.inline:
        via = observers.VIA_INLINE
    else:
        via = observers.VIA_BATCH if delivery.carrier else observers.VIA_MESSAGE
    attempt = observers.Attempt(
        node_id=node_id, run_id=run_id, flow_name=kwargs["flow_name"], task_name=kwargs["task_name"],
        revision_id=int(kwargs["revision_id"]), number=int(kwargs.get("attempt", 0)) + 1, queue=delivery.queue,
        worker=hostname, via=via, carrier=delivery.carrier or node_id, sent_at=delivery.sent_at,
        countdown=delivery.countdown, node_args=kwargs.get("node_args"),
    )
    with observers.running(attempt):
        return _attempt(node_id, run_id, kwargs, snapshot, fan_in, continuation)


def _attempt(node_id: str, run_id: str, kwargs: dict[str, Any], snapshot: FlowRun | None, fan_in: bool,
             continuation: continuations.Continuation | None) -> EnvelopeResult:
    """The body of :func:`_run_started`."""
    expected = int(kwargs.get("attempt", 0))
    retried_count = int(kwargs.get("retried_count", 0))
    lost = int(kwargs.get("lost", 0))
    config = config_for(int(kwargs["revision_id"]))
    pool = StoragePool.for_config(config)
    unit = UnitOfWork(kwargs["dispatcher_id"])  # the attempt's trace events, its end, the step it causes
    with tracing.collecting(unit):
        outcome = run_attempt(
            config, pool,
            flow_name=kwargs["flow_name"], task_name=kwargs["task_name"], task_id=node_id,
            dispatcher_id=kwargs["dispatcher_id"], parent=kwargs.get("parent"),
            node_args=kwargs.get("node_args"), retried_count=retried_count + lost,
            exception_lookup=_exception_lookup,
        )
        if isinstance(outcome, Retry):
            _record(node_id, run_id, dict(kwargs, attempt=expected + 1), outcome, config, unit=unit)
        elif snapshot is not None and _record_optimistic(node_id, snapshot, outcome, unit, continuation):
            pass
        elif fan_in:
            _record_fan_in(node_id, run_id, outcome, unit)
        else:
            _record(node_id, run_id, dict(kwargs, attempt=expected + 1), outcome, config, unit=unit)
    status = {Succeeded: "succeeded", Retry: "retried", Failed: "failed"}[type(outcome)]
    return EnvelopeResult("ran", status)


def _final_update(outcome: Succeeded | Failed, now: Any) -> dict[str, Any]:
    if isinstance(outcome, Succeeded):
        return {"updated_at": now, "status": NodeRunStatus.SUCCEEDED, "finished_at": now,
                "result": outcome.json_result, "result_storage": outcome.storage_name, "exception": "",
                "traceback": ""}
    return {"updated_at": now, "status": NodeRunStatus.FAILED, "finished_at": now, "exception": outcome.exception,
            "traceback": outcome.traceback}


def _record_optimistic(node_id: str, snapshot: FlowRun, outcome: Succeeded | Failed, unit: UnitOfWork,
                       continuation: continuations.Continuation | None = None) -> bool:
    """The attempt's end and the flow's next step in one statement, without a transaction or
    the flow-run lock, when no other step ran since the claim read ``snapshot``. False: nothing
    was written (another step ran, or this step needs the lock) and :func:`_record` must, with
    ``unit`` as it was (the step's work went into a fork of it, committed or dropped whole).

    A successor the step gave to ``continuation`` is written started by the same statement,
    which also takes its advisory lock and releases this node's (the node is finished then).
    """
    update = _final_update(outcome, timezone.now())
    attempt = unit.fork()
    batch = attempt.writes
    batch.update_where(NodeRun, update, _UNFINISHED_NODE, (node_id, _FINISHED), lambda: _unfinished_node(node_id))
    try:
        with tracing.collecting(attempt):
            stepped = step_optimistic(snapshot, known_statuses={node_id: str(update["status"])}, unit=attempt,
                                      continuation=continuation)
        if stepped is None:
            return False
        taken = continuation is not None and continuation.node_id is not None
        if continuation is not None and continuation.node_id is not None:
            batch.swap_locks_when_guarded(take=_lock_key(continuation.node_id), release=_lock_key(node_id))
        attempt.commit()  # one guarded statement, in autocommit: published at once
    except GuardFailed:
        if continuation is not None:
            continuation.drop()
        return False
    unit.messages, unit.traces = [], ([] if unit.traces is not None else None)  # the fork committed them
    if snapshot.is_finished:
        revoke_unstarted(snapshot)
        announce_outcome(snapshot)  # autocommit: at once
    elif taken and continuation is not None:
        continuation.locked = bool(batch.guarded_results[0])
        continuation.snapshot = snapshot if _steppable(snapshot) else None
    return True


def _steppable(run: FlowRun) -> bool:
    """Whether a successor run inline may step ``run`` optimistically from this process's copy
    (what the claim's ``snap`` would have returned for it)."""
    settings = selinon_settings()
    return (
        settings.INLINE_STEPS
        and run.status == FlowRunStatus.RUNNING
        and run.next_wakeup_at != PENDING
        and len((run.state or {}).get("active_nodes", ())) <= settings.INLINE_STEP_MAX_ACTIVE
    )


def _record_fan_in(node_id: str, run_id: str, outcome: Succeeded | Failed, unit: UnitOfWork) -> None:
    """The attempt's end in a big run, in one statement without a transaction: the node's row,
    its trace rows, and the run marked pending unless a wake-up already is (a foreach of
    thousands fans in through here; see :func:`~selinon_django.runtime.wakeups.finish_fan_in`)."""
    update = _final_update(outcome, timezone.now())
    unit.write_traces()
    finish_fan_in((NodeRun, update, _UNFINISHED_NODE, (node_id, _FINISHED)), run_id, unit.writes)


def _record(
    node_id: str, run_id: str, kwargs: dict[str, Any], outcome: Any, config: Any, *, count_retry: bool = True,
    unit: UnitOfWork | None = None,
) -> None:
    """The attempt's end, the retry message or the flow's wake-up, in one transaction.

    ``kwargs`` are the next message's (``attempt`` = the node's attempts after this one);
    ``unit``: the attempt's (its trace events), committed here.
    """
    now = timezone.now()
    if unit is None:
        unit = UnitOfWork(run_id)
    with transaction.atomic(), tracing.collecting(unit):
        update: dict[str, Any]
        if isinstance(outcome, (Succeeded, Failed)):
            update = _final_update(outcome, now)
        else:
            update = {"updated_at": now, "status": NodeRunStatus.RETRIED, "countdown": outcome.countdown,
                      "exception": outcome.exception, "traceback": outcome.traceback, "sent_at": now}
        node_rows = _unfinished_node(node_id)
        if not isinstance(outcome, Retry):
            finish_and_wake(node_rows, update, run_id, unit, finished={node_id: str(update["status"])})
        elif node_rows.update(**update):
            again = dict(kwargs)
            if not count_retry:
                pass
            elif outcome.counted:
                again["retried_count"] = int(kwargs.get("retried_count", 0)) + 1
            else:
                again["user_retries"] = int(kwargs.get("user_retries", 0)) + 1
            message = replace(messages.TaskMessage.from_kwargs(node_id, again), interrupted=False, batch=())
            # recorded: the node-run row says retried
            message.enqueue(unit, message.options(config, countdown=outcome.countdown or None), recorded=True)
        unit.commit()


def _exception_lookup(flow_name: str, task_name: str, task_id: str) -> BaseException | None:
    """A failed task's exception when its storage holds none: rebuilt from its node-run row."""
    row = NodeRun.objects.filter(pk=task_id).values("exception", "traceback").first()
    if row is None or not row["exception"]:
        return None
    type_name, _, message = row["exception"].partition(": ")
    return StoredTaskError(type_name, message, row["traceback"])
