"""The runtime's two Celery tasks, registered under stable names.

Both acknowledge late and are requeued when their worker process is lost: the database, not
the broker, decides whether a delivery is new work or a duplicate. A database error (the
connection dropped, the server restarting) hands the message back after a short pause instead
of acknowledging it: the work is done by a later delivery, never lost. A dispatcher message is
rejected back to its queue. A task message is published again as a copy marked *interrupted*
(:func:`_hand_back`): the attempt it may have started ended here, in a live process, so its next
delivery runs the node again without counting a lost worker (``LOST_TASK_RETRIES`` is for
processes that die, not for a database that restarts).

Import this module in the worker (``app.autodiscover_tasks(["selinon_django.runtime"],
related_name="celery_tasks")`` or ``-I selinon_django.runtime.celery_tasks``).
"""
from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from celery import shared_task
from celery.exceptions import Reject
from django.db import DatabaseError, InterfaceError, OperationalError, connection, connections

from selinon_django.runtime import dispatcher, envelope, messages, outbox, sweeper, task_events, tracing
from selinon_django.runtime.configs import cached_config
from selinon_django.runtime.messages import DISPATCHER_TASK, NODE_TASK

logger = logging.getLogger(__name__)

#: pause before a message is handed back after a database error (avoids a hot loop)
DATABASE_ERROR_PAUSE = 0.5

tracing.install()
task_events.register()


def _release_old_connections() -> None:
    """``close_old_connections`` without its health check.

    Django's version also makes the next query of a connection it keeps run a ``SELECT 1``
    first (with ``CONN_HEALTH_CHECKS``): a round trip on every task. A connection that broke is
    found by the task's first statement instead, whose database error hands the message back
    (see :func:`_requeue_after_database_error`, which closes the connection).
    """
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        if conn.in_atomic_block:
            continue
        obsolete = conn.close_at is not None and time.monotonic() >= conn.close_at
        if obsolete or conn.get_autocommit() != conn.settings_dict["AUTOCOMMIT"] or conn.errors_occurred:
            conn.close()


def _requeue_after_database_error(exc: BaseException) -> None:
    logger.warning("database error (%s); the message goes back to the queue", exc)
    try:
        connection.close()
    except Exception:
        logger.debug("closing the broken connection failed", exc_info=True)
    time.sleep(DATABASE_ERROR_PAUSE)
    raise Reject(str(exc), requeue=True) from exc


@shared_task(name=DISPATCHER_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def dispatcher_task(self: Any, run_id: str, state_version: int | None = None, reason: str = "wakeup",
                    **selinon_keys: Any) -> None:
    """One dispatcher step of a flow run (Selinon's ``Dispatcher`` task)."""
    _release_old_connections()
    try:
        dispatcher.handle_message(run_id, state_version=state_version, reason=reason)
    except (OperationalError, InterfaceError) as exc:
        _requeue_after_database_error(exc)
    except DatabaseError as exc:
        if connection.needs_rollback or not connection.is_usable():
            _requeue_after_database_error(exc)
        raise


# send_events=False: Celery's events would describe the message, not its nodes (a message may
# carry several, and it "succeeds" when its node failed): task_events sends one set per node
@shared_task(name=NODE_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
             send_events=False)
def node_task(self: Any, **kwargs: Any) -> str:
    """One attempt of a node (Selinon's ``SelinonTaskEnvelope``); the task id is the node id."""
    _release_old_connections()
    request = self.request
    conf = self.app.conf
    # Celery limits the time of the whole message, successors run inline included: none then
    time_limited = any(request.timelimit or ()) or bool(conf.task_time_limit or conf.task_soft_time_limit)
    try:
        result = envelope.handle_message(
            request.id, kwargs, hostname=request.hostname or "",
            queue=(request.delivery_info or {}).get("routing_key"), time_limited=time_limited,
        )
    except (OperationalError, InterfaceError) as exc:
        return _hand_back(request, kwargs, exc)
    return result.action


def _hand_back(request: Any, kwargs: dict[str, Any], exc: BaseException) -> str:
    """After a database error: publish this message again marked interrupted, then acknowledge
    this delivery; if the broker refuses too, reject it back to the queue as it is.

    The copy's options are its task's (:func:`~selinon_django.runtime.messages.task_options`,
    from the configuration this process has cached - the database is out of reach: no rate-limit
    slot), else the ones this delivery came with.
    """
    logger.warning("database error (%s); the message is handed back", exc)
    try:
        connection.close()
    except Exception:
        logger.debug("closing the broken connection failed", exc_info=True)
    time.sleep(DATABASE_ERROR_PAUSE)
    message = replace(messages.TaskMessage.from_kwargs(request.id, kwargs), interrupted=True)
    config = cached_config(message.revision_id)
    if config is not None and message.task_name in config.tasks:
        options = message.options(config, rate_limited=False)
    else:
        hard, soft = [*(request.timelimit or ()), None, None][:2]  # (Celery's order)
        options = messages.CeleryOptions(
            task_id=request.id, queue=(request.delivery_info or {}).get("routing_key"), time_limit=hard,
            soft_time_limit=soft, priority=(request.delivery_info or {}).get("priority"),
        )
    try:
        outbox.publish([outbox.Message(messages.NODE_TASK, message.kwargs(), options.as_dict())])
    except Exception as publish_error:
        logger.warning("handing the message back failed (%s): rejected to its queue", publish_error)
        raise Reject(str(exc), requeue=True) from exc
    return "interrupted"


def _connect_worker_signals() -> None:
    from celery.signals import worker_ready, worker_shutting_down

    worker_ready.connect(sweeper.start_in_worker, weak=False)
    worker_shutting_down.connect(sweeper.stop_in_worker, weak=False)


_connect_worker_signals()
