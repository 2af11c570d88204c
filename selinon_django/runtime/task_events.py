"""Celery's task events for every node run, so Flower, ``celery events`` and the dashboards built on
Celery's event stream count nodes as tasks.

A Celery message of the task envelope is not one node: it may carry a batch of them, and nodes run
inline after their predecessor have no message at all (see :mod:`.continuations`). And the
message's own outcome is not the node's: the envelope returns normally when its node failed (the
failure is recorded, not raised). So the envelope's own events are switched off
(``send_events=False`` on the task) and this module sends them per node instead, with the
node's id as ``uuid`` and its task name as ``name``:

- ``task-sent`` - where a message is published, when Celery's ``task_send_sent_event`` is on: one
  per node the message carries (:class:`SentEvents`, given to Celery as the message's
  ``event_dispatcher``); an inline successor's from the worker that takes it;
- ``task-received``, ``task-started`` - when a worker starts a node's attempt;
- ``task-succeeded`` (with ``runtime``), ``task-failed``, ``task-retried`` - its outcome;
- ``task-revoked`` - a delivery that finds its node revoked, or a message Celery revoked
  (``cancel_flow``) - for its node and every node it carried or listed.

As for Celery's own events, nothing is sent unless the worker sends task events (``-E``, the
``worker_send_task_events`` setting): a worker without them installs nothing and pays nothing
per node. The worker-side events come from the process that runs the node (a pool process),
through one event dispatcher per process, under the worker's hostname.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from reprlib import Repr
from typing import Any

from celery.signals import task_revoked, worker_init
from django.db.models import Q

from selinon_django.models.runs import NodeRun, NodeRunStatus
from selinon_django.runtime import observers, outbox
from selinon_django.runtime.celery_app import get_celery_app
from selinon_django.runtime.continuations import BATCH_KEY
from selinon_django.runtime.messages import NODE_TASK
from selinon_django.trace.events import Trace
from selinon_django.trace.tracer import add_process_backend, remove_process_backend

logger = logging.getLogger(__name__)

_repr = Repr()
_repr.maxstring = _repr.maxother = 256
_repr.maxlevel = 3


def _kwargs_repr(node_args: Any) -> str:
    """What a node's event shows as its ``kwargs``: its node_args, shortened like Celery's saferepr."""
    return _repr.repr({"node_args": node_args})


def _item_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"uuid": item["id"], "name": item["task_name"], "kwargs": _kwargs_repr(item.get("node_args"))}


class SentEvents:
    """A node message's ``event_dispatcher`` for Celery's publisher: the ``task-sent`` event Celery
    builds for the message is sent for its own node under the node's task name, and once more for
    each node the message carries (same queue, exchange and routing key)."""

    def __init__(self, app: Any, kwargs: Mapping[str, Any]) -> None:
        self.app = app
        self.kwargs = kwargs

    @classmethod
    def for_message(cls, app: Any, kwargs: Mapping[str, Any]) -> SentEvents:
        return cls(app, kwargs)

    def publish(self, type: str, fields: dict[str, Any], producer: Any, **options: Any) -> None:
        dispatcher = _publisher_dispatcher(self.app)
        own = {**fields, "name": self.kwargs.get("task_name", fields.get("name")),
               "kwargs": _kwargs_repr(self.kwargs.get("node_args")), "args": "()"}
        dispatcher.publish(type, own, producer, **options)
        for item in self.kwargs.get(BATCH_KEY) or ():
            dispatcher.publish(type, {**own, **_item_fields(item), "eta": None}, producer, **options)


_publishers: dict[int, Any] = {}


def _publisher_dispatcher(app: Any) -> Any:
    """An event dispatcher that only formats events for a producer Celery hands it (one per app
    and process; it sends nothing itself)."""
    key = id(app)
    dispatcher = _publishers.get(key)
    if dispatcher is None or dispatcher.pid != os.getpid():
        dispatcher = _publishers[key] = app.events.Dispatcher(app.connection_for_write(), enabled=False)
    return dispatcher


class Emitter:
    """Sends events from this process under the worker's hostname, through one event dispatcher
    (made again after a fork or a broker error). A failure to send is logged, never raised: a
    node's outcome does not depend on its monitoring."""

    def __init__(self, app: Any, hostname: str) -> None:
        self.app = app
        self.hostname = hostname
        self._dispatcher: Any = None
        self._lock = threading.Lock()

    def send(self, type: str, **fields: Any) -> None:
        with self._lock:
            try:
                dispatcher = self._dispatcher
                if dispatcher is None or dispatcher.pid != os.getpid():
                    dispatcher = self._dispatcher = self.app.events.Dispatcher(
                        self.app.connection_for_write(), hostname=self.hostname, enabled=True,
                        buffer_while_offline=False,
                    )
                dispatcher.send(type, **fields)
            except Exception:
                logger.warning("could not send the %s event of %s", type, fields.get("uuid"), exc_info=True)
                self._close()

    def _close(self) -> None:
        dispatcher, self._dispatcher = self._dispatcher, None
        if dispatcher is not None:
            try:
                dispatcher.connection.release()
            except Exception:
                logger.debug("closing the event connection failed", exc_info=True)


class NodeEvents(observers.Observer):
    """The worker's node events: a trace backend for the attempt's start and outcome, and an
    observer for revoked deliveries."""

    def __init__(self, emitter: Emitter, *, send_sent: bool) -> None:
        self.emitter = emitter
        self.send_sent = send_sent
        self._started = threading.local()

    def __call__(self, event: int, details: dict[str, Any]) -> None:
        if event == Trace.TASK_START:
            self._start(details)
        elif getattr(self._started, "node", None) != details.get("task_id"):
            return  # the end of an attempt whose start was not sent (not the envelope's)
        elif event == Trace.TASK_END:
            self.emitter.send("task-succeeded", uuid=details["task_id"], result=repr(details.get("storage_name")),
                              runtime=self._runtime())
        elif event == Trace.TASK_FAILURE:
            self.emitter.send("task-failed", uuid=details["task_id"], exception=str(details.get("what", "")),
                              traceback="")
        elif event == Trace.TASK_RETRY:
            self.emitter.send("task-retried", uuid=details["task_id"], exception=str(details.get("what", "")),
                              traceback="")

    def _start(self, details: dict[str, Any]) -> None:
        attempt = observers.current()
        if attempt is None or attempt.node_id != details.get("task_id"):
            self._started.node = None
            return  # not an attempt of the envelope (the in-process executor has no Celery)
        self._started.at, self._started.node = time.monotonic(), attempt.node_id
        kwargs = _kwargs_repr(attempt.node_args)
        if attempt.via == observers.VIA_INLINE and self.send_sent:
            self.emitter.send("task-sent", uuid=attempt.node_id, name=attempt.task_name, args="()", kwargs=kwargs,
                              retries=attempt.number - 1, eta=None, expires=None, queue=attempt.queue,
                              exchange="", routing_key=attempt.queue, root_id=None, parent_id=None)
        self.emitter.send("task-received", uuid=attempt.node_id, name=attempt.task_name, args="()", kwargs=kwargs,
                          retries=attempt.number - 1, eta=None, expires=None, root_id=None, parent_id=None)
        self.emitter.send("task-started", uuid=attempt.node_id)

    def _runtime(self) -> float:
        started = getattr(self._started, "at", None)
        return time.monotonic() - started if started is not None else 0.0

    def delivery_revoked(self, node_id: str, task_name: str, worker: str) -> None:
        self.emitter.send("task-revoked", uuid=node_id, terminated=False, signum=None, expired=False)

    def message_revoked(self, request: Any, *, terminated: bool, signum: Any, expired: bool) -> None:
        """Celery revoked a node message (``cancel_flow``): its node and the nodes it carried or
        lists that are revoked (one carrying a node that finished before has other nodes revoked)."""
        kwargs = getattr(request, "kwargs", None) or {}
        listed = [request.id, *(item["id"] for item in kwargs.get(BATCH_KEY) or ())]
        revoked = NodeRun.objects.filter(Q(pk__in=listed) | Q(carried_by=request.id),
                                         status=NodeRunStatus.REVOKED).values_list("id", flat=True)
        for node_id in revoked:
            self.emitter.send("task-revoked", uuid=node_id, terminated=bool(terminated),
                              signum=signum and int(signum), expired=bool(expired))


_installed: NodeEvents | None = None


def install(app: Any, hostname: str) -> NodeEvents:
    """Send this worker's node events (idempotent; :func:`uninstall` stops)."""
    global _installed
    if _installed is None:
        _installed = NodeEvents(Emitter(app, hostname), send_sent=bool(app.conf.task_send_sent_event))
        add_process_backend(_installed)
        observers.install(_installed)
    return _installed


def uninstall() -> None:
    global _installed
    if _installed is not None:
        remove_process_backend(_installed)
        observers.uninstall(_installed)
        _installed = None


def _on_worker_init(sender: Any = None, **_: Any) -> None:
    """In the worker's main process, before its pool processes fork: node events follow the
    worker's own switch for task events (``-E`` / ``worker_send_task_events``)."""
    if getattr(sender, "task_events", False):
        install(getattr(sender, "app", None) or get_celery_app(), str(getattr(sender, "hostname", "")))


def _on_task_revoked(sender: Any = None, request: Any = None, terminated: bool = False, signum: Any = None,
                     expired: bool = False, **_: Any) -> None:
    if _installed is None or request is None or getattr(sender, "name", None) != NODE_TASK:
        return
    try:
        _installed.message_revoked(request, terminated=terminated, signum=signum, expired=expired)
    except Exception:
        logger.warning("could not send the task-revoked events of message %s", getattr(request, "id", None),
                       exc_info=True)


def register() -> None:
    """Connect to Celery (idempotent; called where the runtime's tasks are registered): workers
    decide at start whether they send node events, publishers describe node messages' task-sent."""
    worker_init.connect(_on_worker_init, weak=False, dispatch_uid=f"{__name__}.worker_init")
    task_revoked.connect(_on_task_revoked, weak=False, dispatch_uid=f"{__name__}.task_revoked")
    outbox.describe_sent_events(NODE_TASK, SentEvents.for_message)
