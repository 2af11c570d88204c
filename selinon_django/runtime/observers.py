"""Hooks for monitoring (OpenTelemetry, Prometheus, Celery's task events) where the trace events
do not say enough.

The trace events (:mod:`selinon_django.trace`) say what happened to a node - ``TASK_START``,
``TASK_END``, ``TASK_FAILURE``, ``TASK_RETRY`` with the flow, task and run - and monitoring
backends are trace backends fed by them. What only the envelope knows is kept here for them
while an attempt runs (:func:`current`): the queue its message came from, the worker, the
attempt's number, the revision, when the node was sent and how it reached this process (its own
message, a batched message, or inline after its predecessor). A few things happen without a
trace event at all: a delivery that finds its node revoked, an attempt lost with its process,
and a new run that records the trace context of the code that started it; observers get a hook
for each.

Nothing here costs a worker without monitoring more than a test of :data:`watching` per node:
the runtime builds an :class:`Attempt` and calls the hooks only while an observer is installed.
This module is pure Python; the observers live in :mod:`selinon_django.observability`.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)

#: how an attempt reached the process that runs it
VIA_MESSAGE = "message"  # its own Celery message
VIA_BATCH = "batch"  # listed by another node's message (see runtime/continuations.py)
VIA_INLINE = "inline"  # started by its predecessor's step in this process, no message


@dataclass(frozen=True)
class Attempt:
    """One attempt of a node, as the envelope runs it."""

    node_id: str
    run_id: str
    flow_name: str
    task_name: str
    revision_id: int
    #: 1 for the first attempt
    number: int
    queue: str | None
    worker: str
    via: str
    #: the Celery task id of the message it runs under (its own id for its own message)
    carrier: str
    #: when its message was sent (the node-run row's ``sent_at``), and the message's countdown
    sent_at: datetime | None = None
    countdown: float | None = None
    node_args: Any = None

    def queue_wait(self, started: datetime) -> float | None:
        """Seconds from sent to ``started``, a countdown excluded (None when unknown); 0 inline."""
        if self.via == VIA_INLINE:
            return 0.0
        if self.sent_at is None:
            return None
        return max(0.0, (started - self.sent_at).total_seconds() - (self.countdown or 0.0))


class Observer:
    """Base of the runtime's observers: every hook does nothing; override the ones needed.

    A hook must not raise (it is called from the middle of a node's attempt); the runtime logs
    and ignores an exception all the same.
    """

    def delivery_revoked(self, node_id: str, task_name: str, worker: str) -> None:
        """A message (or a batch item) reached a worker for a node that was revoked: dropped."""

    def attempt_lost(self, flow_name: str, task_name: str, *, failed: bool) -> None:
        """A node's attempt died with its process and is run again (``failed``: once too often,
        the node is failed without running)."""

    def run_trace_context(self, run_id: str) -> dict[str, Any] | None:
        """The trace context a new root run records (:mod:`.trace_context`); None: none."""
        return None


_observers: tuple[Observer, ...] = ()
#: whether any observer is installed: the runtime tests this before building anything for them
watching = False
_lock = threading.Lock()


class _Current(threading.local):
    attempt: Attempt | None = None


_current = _Current()


def install(observer: Observer) -> None:
    """Add ``observer`` (idempotent)."""
    global _observers, watching
    with _lock:
        if all(o is not observer for o in _observers):
            _observers = (*_observers, observer)
        watching = True


def uninstall(observer: Observer) -> None:
    global _observers, watching
    with _lock:
        _observers = tuple(o for o in _observers if o is not observer)
        watching = bool(_observers)


def installed() -> tuple[Observer, ...]:
    return _observers


def current() -> Attempt | None:
    """The attempt running on this thread (None outside the envelope, or when nobody watches)."""
    return _current.attempt


@contextmanager
def running(attempt: Attempt) -> Iterator[None]:
    """Make ``attempt`` the current one while it runs (nested: an inline successor's run ends
    before the next starts, so nothing nests in practice; the outer one is restored anyway)."""
    outer, _current.attempt = _current.attempt, attempt
    try:
        yield
    finally:
        _current.attempt = outer


def delivery_revoked(node_id: str, task_name: str, worker: str) -> None:
    for observer in _observers:
        try:
            observer.delivery_revoked(node_id, task_name, worker)
        except Exception:
            logger.exception("observer %r failed on a revoked delivery", observer)


def attempt_lost(flow_name: str, task_name: str, *, failed: bool) -> None:
    for observer in _observers:
        try:
            observer.attempt_lost(flow_name, task_name, failed=failed)
        except Exception:
            logger.exception("observer %r failed on a lost attempt", observer)


def run_trace_context(run_id: str) -> dict[str, Any] | None:
    """The first trace context an observer gives a new root run."""
    for observer in _observers:
        try:
            context = observer.run_trace_context(run_id)
        except Exception:
            logger.exception("observer %r failed to give run %s a trace context", observer, run_id)
            continue
        if context:
            return context
    return None
