"""Capture what a task logs while it runs, per node run, in bounded batches.

A :class:`CaptureHandler` on the root logger (and on Celery's ``celery.task`` logger, which does
not propagate) hands each record logged *on the thread of a running attempt* to that attempt's
:class:`Capture`; records of every other thread pass by at the cost of one thread-local lookup.
A task that logs nothing costs nothing more: no query, no row, no thread (:func:`capturing` only
sets and clears a thread-local).

The first line of an attempt opens its target through the installed :class:`LogSink` (the
database one is :mod:`selinon_django.runtime.task_logs`): which attempt this is and how many bytes
the node already kept. Lines are buffered and written in batches, never one by one: by the
process's :class:`Flusher` thread once the oldest line waited ``flush_seconds`` or the batch is
big (a worker starts it, see :func:`allow_flusher`), otherwise by the task's own thread when it
logs; what is left is written when the attempt ends. A node keeps at most ``max_bytes`` of
message text over all its attempts; past that lines are counted, not kept, and a marker line says
how many. Messages are masked (URL passwords, secret-named values) before they are buffered.

Pure Python, no Django: the sink decides where lines go.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from selinon_django.config.secrets import mask_url_passwords

#: a stored line: (unix time, level name, logger name, message)
Line = tuple[float, str, str, str]

#: a batch this big (lines or bytes) is written without waiting for ``flush_seconds``
BATCH_LINES = 200
BATCH_BYTES = 32_768

#: the logger of the marker line that says a log was truncated
MARKER_LOGGER = "selinon_django"

#: loggers whose records are never captured: the capture's own writes would log about themselves
_OWN_LOGGERS = ("selinon_django.runtime.log_capture", "selinon_django.runtime.task_logs")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaptureSettings:
    level: int
    max_bytes: int
    flush_seconds: float


@dataclass
class Target:
    """Where an attempt's lines go: its attempt number and the bytes its node already kept."""

    attempt: int
    kept_bytes: int


class LogSink(Protocol):
    """Where captured lines are written (the database sink: :mod:`selinon_django.runtime.task_logs`)."""

    def settings(self) -> CaptureSettings | None:
        """The capture's settings, None when logs are not kept."""

    def open(self, node_id: str, run_id: str) -> Target | None:
        """The attempt's target, None when this node's lines are not kept (no such node run)."""

    def write(self, node_id: str, run_id: str, attempt: int, lines: list[Line], size: int) -> None:
        """Keep one batch; raising drops the batch (never the task)."""

    def release(self, in_flusher: bool) -> None:
        """After a failed write: drop what the failure may have broken (a flusher's connection)."""


class Capture:
    """The buffered lines of one attempt of one node run (shared by its thread and the flusher)."""

    def __init__(self, sink: LogSink, node_id: str, run_id: str, settings: CaptureSettings) -> None:
        self.sink = sink
        self.node_id = node_id
        self.run_id = run_id
        self.settings = settings
        self.target: Target | None = None
        self.opened = False
        #: the thread is inside the sink (its queries may log): records are not captured then
        self.busy = False
        self.closed = False
        self.buffer: list[Line] = []
        self.buffered_bytes = 0
        self.oldest: float | None = None
        self.kept_bytes = 0
        self.dropped_lines = 0
        self.dropped_bytes = 0
        self.last_record: logging.LogRecord | None = None
        self._lock = threading.Lock()  # the buffer (held briefly: never while writing)
        self._write_lock = threading.Lock()  # one batch at a time, in order

    # --- the task's thread ---

    def add(self, record: logging.LogRecord) -> None:
        if record is self.last_record:  # the same record seen by a second handler
            return
        self.last_record = record
        if not self.opened:
            self._open()
        if self.target is None:
            return
        message = mask_url_passwords(_message(record))
        size = len(message.encode("utf-8", "replace"))
        with self._lock:
            room = self.settings.max_bytes - self.kept_bytes
            if size > room:
                if room > 0:  # the line that crosses the bound is cut at it
                    message = message.encode("utf-8", "replace")[:room].decode("utf-8", "ignore")
                    self.dropped_bytes += size - room
                    size = room
                else:
                    self.dropped_lines += 1
                    self.dropped_bytes += size
                    return
            self.kept_bytes += size
            self.buffer.append((record.created, record.levelname, record.name, message))
            self.buffered_bytes += size
            if self.oldest is None:
                self.oldest = time.monotonic()
            full = len(self.buffer) >= BATCH_LINES or self.buffered_bytes >= BATCH_BYTES
            due = full or time.monotonic() - self.oldest >= self.settings.flush_seconds
        flusher = _flusher_for_process()
        if flusher is not None:
            flusher.watch(self, wake=full)
        elif due:
            self.flush(in_flusher=False)

    def _open(self) -> None:
        self.opened = True
        self.busy = True
        try:
            self.target = self.sink.open(self.node_id, self.run_id)
        except Exception:
            logger.warning("the log of node run %s cannot be kept", self.node_id, exc_info=True)
            self.target = None
        finally:
            self.busy = False
        if self.target is not None:
            self.kept_bytes = self.target.kept_bytes

    # --- either thread ---

    def due(self, now: float) -> bool:
        oldest = self.oldest
        return oldest is not None and now - oldest >= self.settings.flush_seconds

    def flush(self, *, in_flusher: bool, final: bool = False) -> None:
        """Write what is buffered (``final``: and the truncation marker; no line is taken after)."""
        if self.target is None:
            return
        with self._write_lock:
            if self.closed:
                return
            with self._lock:
                lines, size = self.buffer, self.buffered_bytes
                self.buffer, self.buffered_bytes, self.oldest = [], 0, None
                if final:
                    self.closed = True
                    if self.dropped_bytes:
                        lines.append(self._marker())
            if not lines:
                return
            self.busy = not in_flusher
            try:
                self.sink.write(self.node_id, self.run_id, self.target.attempt, lines, size)
            except Exception:
                logger.warning("%d log line(s) of node run %s were not kept", len(lines), self.node_id, exc_info=True)
                self.sink.release(in_flusher)
            finally:
                if not in_flusher:
                    self.busy = False

    def _marker(self) -> Line:
        more = f"{self.dropped_lines} more line(s), " if self.dropped_lines else ""
        return (
            time.time(), "WARNING", MARKER_LOGGER,
            f"[log truncated: this node run keeps at most {self.settings.max_bytes} bytes of log text "
            f"(TASK_LOG_MAX_BYTES); {more}{self.dropped_bytes} byte(s) not kept]",
        )


def _message(record: logging.LogRecord) -> str:
    """The record's text as a log file would show it after the prefix: message, traceback, stack."""
    try:
        text = record.getMessage()
    except Exception as problem:  # a bad format string must not lose the line
        text = f"{record.msg!r} (unformattable with {record.args!r}: {problem})"
    if record.exc_info and record.exc_info[0] is not None:
        text = f"{text}\n{_FORMATTER.formatException(record.exc_info)}"
    elif record.exc_text:
        text = f"{text}\n{record.exc_text}"
    if record.stack_info:
        text = f"{text}\n{_FORMATTER.formatStack(record.stack_info)}"
    return text


_FORMATTER = logging.Formatter()


class _Local(threading.local):
    def __init__(self) -> None:
        self.capture: Capture | None = None


_local = _Local()


class CaptureHandler(logging.Handler):
    """Hands the records of a thread running an attempt to that attempt's capture."""

    def emit(self, record: logging.LogRecord) -> None:
        capture = _local.capture
        if capture is None or capture.busy or capture.closed or record.levelno < capture.settings.level:
            return
        if record.name.startswith(_OWN_LOGGERS):
            return
        try:
            capture.add(record)
        except Exception:  # a log line must never fail the task that logs it
            _local.capture = None
            logger.warning("capturing the log of node run %s stopped", capture.node_id, exc_info=True)


_handler = CaptureHandler()
_sink: LogSink | None = None
#: loggers the handler sits on: the root, and Celery's task logger (``get_task_logger`` loggers
#: are its children, and it does not propagate in a worker)
_HANDLED_LOGGERS = ("", "celery.task")


def install(sink: LogSink) -> None:
    """Send captured lines to ``sink`` (the runtime installs the database sink once per process)."""
    global _sink
    _sink = sink


def _attach_handler() -> None:
    """Put the handler on its loggers (again: a worker's logging set-up empties the root's handlers)."""
    for name in _HANDLED_LOGGERS:
        target = logging.getLogger(name)
        if _handler not in target.handlers:
            target.addHandler(_handler)


@contextmanager
def capturing(node_id: str, run_id: str) -> Iterator[Capture | None]:
    """Capture what this thread logs while the block runs; written (the rest) when it ends."""
    sink = _sink
    settings = sink.settings() if sink is not None else None
    if sink is None or settings is None or _local.capture is not None:
        yield None
        return
    _attach_handler()
    capture = Capture(sink, node_id, run_id, settings)
    _local.capture = capture
    try:
        yield capture
    finally:
        _local.capture = None
        flusher = _flusher  # (a silent attempt starts no flusher)
        if flusher is not None:
            flusher.forget(capture)
        capture.flush(in_flusher=False, final=True)


# --- the flusher ---------------------------------------------------------------------------


class Flusher:
    """One daemon thread per process that writes the batches of running attempts when they are due."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._captures: set[Capture] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="selinon-task-logs", daemon=True)
        self._thread.start()

    def watch(self, capture: Capture, *, wake: bool) -> None:
        with self._lock:
            self._captures.add(capture)
        if wake:
            self._wake.set()

    def forget(self, capture: Capture) -> None:
        with self._lock:
            self._captures.discard(capture)

    def _loop(self) -> None:
        while True:
            with self._lock:
                captures = list(self._captures)
            interval = min((c.settings.flush_seconds for c in captures), default=1.0)
            self._wake.wait(timeout=max(0.05, interval / 4))
            self._wake.clear()
            now = time.monotonic()
            for capture in captures:
                full = len(capture.buffer) >= BATCH_LINES or capture.buffered_bytes >= BATCH_BYTES
                if full or capture.due(now):
                    capture.flush(in_flusher=True)


_flusher_allowed = False
_flusher: Flusher | None = None
_flusher_lock = threading.Lock()


def allow_flusher() -> None:
    """Let this process (and the worker processes it forks) write batches from a thread of their
    own: a worker's tasks then stream their lines while they run, even while they log nothing
    more. Off elsewhere: a test's transaction or SQLite would not let a second connection write."""
    global _flusher_allowed
    _flusher_allowed = True


def _flusher_for_process() -> Flusher | None:
    """This process's flusher (started on first use; a forked child starts its own)."""
    global _flusher
    if not _flusher_allowed:
        return None
    flusher = _flusher
    if flusher is not None and flusher.pid == os.getpid():
        return flusher
    with _flusher_lock:
        if _flusher is None or _flusher.pid != os.getpid():
            _flusher = Flusher()
        return _flusher
