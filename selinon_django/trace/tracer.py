"""The tracer: fans one event out to every configured backend, and never fails the caller.

A trace point sits in the middle of a dispatcher step or a task run; a broken log handler or a
user's trace function raising must not turn a succeeded task into a failed one. So every backend
call is isolated: its exception is logged and the remaining backends still run.

Backends are plain callables ``backend(event: int, details: dict) -> None``. The ones named in
``global.trace`` are built by :meth:`Tracer.from_entries`; the runtime adds its own (database
rows) with :meth:`Tracer.add_backend` (one tracer) or :func:`add_process_backend` (every tracer).
"""
from __future__ import annotations

import importlib
import json
import logging
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from selinon_django.config.model import TraceEntry
from selinon_django.trace.events import Trace

logger = logging.getLogger(__name__)

#: the logger the ``logging`` backend writes to (Selinon users filter on it)
TRACE_LOGGER_NAME = "selinon_django.trace"

TraceBackend = Callable[[int, dict[str, Any]], None]
#: returns the connected storage adapter of a storage name (``StoragePool.get_connected_storage``)
StorageLookup = Callable[[str], Any]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def envelope(event: int, details: Mapping[str, Any]) -> dict[str, Any]:
    """The ``{"details", "event", "time"}`` message the logging and json backends print."""
    return {"details": dict(details), "event": Trace.event2str(event), "time": _now()}


def to_json(value: Any) -> str:
    """One-line JSON that never fails on an odd value (exceptions, UUIDs... become strings)."""
    return json.dumps(value, sort_keys=True, default=str)


class LoggingBackend:
    """``logging: true``: INFO for ordinary events, WARNING for ``Trace.WARN_EVENTS``."""

    def __init__(self, logger_: logging.Logger | None = None) -> None:
        self.logger = logger_ or logging.getLogger(TRACE_LOGGER_NAME)
        self.host = socket.gethostname()

    def __call__(self, event: int, details: dict[str, Any]) -> None:
        level = logging.WARNING if Trace.is_warning(event) else logging.INFO
        if not self.logger.isEnabledFor(level):
            return
        self.logger.log(
            level, "SELINON %s - %s : %s", self.host, Trace.event2str(event), to_json(envelope(event, details))
        )


class JsonBackend:
    """``json: true``: one JSON document per line, ready for log shippers.

    Like Selinon, ordinary events go to stdout and warnings to stderr unless one ``stream`` is
    given. The streams are looked up at call time so pytest's capture (and a daemon's
    redirection) see the lines.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def __call__(self, event: int, details: dict[str, Any]) -> None:
        stream = self.stream
        if stream is None:
            stream = sys.stderr if Trace.is_warning(event) else sys.stdout
        line = to_json(envelope(event, details)) + "\n"
        with self._lock:  # whole lines even with several threads tracing
            stream.write(line)
            stream.flush()


class FunctionBackend:
    """``function: {name, import}``: Selinon's ``fn(event, msg_dict)`` with the flat details."""

    def __init__(self, function: Callable[[int, dict[str, Any]], Any]) -> None:
        self.function = function

    @classmethod
    def from_import(cls, module: str, name: str) -> FunctionBackend:
        return cls(getattr(importlib.import_module(module), name))

    def __call__(self, event: int, details: dict[str, Any]) -> None:
        self.function(event, details)


class StorageBackend:
    """``storage: {name, method}``: ``adapter.<method>(event, msg_dict)`` on the connected adapter."""

    def __init__(self, storage_name: str, method: str, storage_lookup: StorageLookup) -> None:
        self.storage_name = storage_name
        self.method = method
        self.storage_lookup = storage_lookup

    def __call__(self, event: int, details: dict[str, Any]) -> None:
        adapter = self.storage_lookup(self.storage_name)
        getattr(adapter, self.method)(event, details)


class SentryBackend:
    """``sentry: {dsn}``: report task failures (``TASK_FAILURE`` only, as Selinon does).

    The SDK is initialised once per process per DSN; with no DSN an SDK the project initialised
    itself (Django integration) is used as it is.
    """

    _initialised: set[str] = set()
    _init_lock = threading.Lock()

    def __init__(self, sentry_sdk: Any, dsn: str | None = None) -> None:
        self.sdk = sentry_sdk
        self.dsn = dsn
        if dsn:
            with self._init_lock:
                if dsn not in self._initialised:
                    sentry_sdk.init(dsn=dsn)
                    self._initialised.add(dsn)

    def __call__(self, event: int, details: dict[str, Any]) -> None:
        if event != Trace.TASK_FAILURE:
            return
        scope_factory = getattr(self.sdk, "new_scope", None) or self.sdk.push_scope
        with scope_factory() as scope:
            for key in ("flow_name", "task_name", "task_id", "dispatcher_id"):
                if key in details:
                    scope.set_tag(key, str(details[key]))
            scope.set_extra("details", to_json(details))
            exc = details.get("exception")
            if isinstance(exc, BaseException):
                self.sdk.capture_exception(exc)
            else:
                what = details.get("what", "")
                self.sdk.capture_message(f"task {details.get('task_name')} failed: {what}", level="error")


_sentry_warned = False


def _sentry_backend(options: Mapping[str, Any]) -> SentryBackend | None:
    global _sentry_warned
    try:
        sentry_sdk = importlib.import_module("sentry_sdk")
    except ImportError:
        if not _sentry_warned:
            _sentry_warned = True
            logger.warning("global.trace has a sentry entry but sentry-sdk is not installed; Sentry tracing is off")
        return None
    dsn = options.get("dsn")
    return SentryBackend(sentry_sdk, str(dsn) if dsn else None)


def _enabled(options: Mapping[str, Any]) -> bool:
    """``logging: false`` / ``json: false`` switch a backend off (the config keeps the flag)."""
    return bool(options.get("enabled", True))


def build_backend(entry: TraceEntry, storage_lookup: StorageLookup | None = None) -> TraceBackend | None:
    """The backend for one ``global.trace`` entry, or None when it is switched off / unavailable."""
    options = entry.options
    if entry.kind == "logging":
        return LoggingBackend() if _enabled(options) else None
    if entry.kind == "json":
        return JsonBackend() if _enabled(options) else None
    if entry.kind == "function":
        module = options.get("import") or options.get("module")
        return FunctionBackend.from_import(str(module), str(options["name"]))
    if entry.kind == "storage":
        if storage_lookup is None:
            raise ValueError("a storage trace entry needs a storage pool")
        return StorageBackend(str(options["name"]), str(options.get("method", "trace")), storage_lookup)
    if entry.kind == "sentry":
        return _sentry_backend(options)
    raise ValueError(f"unknown trace kind {entry.kind!r}")


#: backends every Tracer of this process delivers to (the runtime's database rows), whatever
#: revision the tracer was built for
_process_backends: list[TraceBackend] = []
_process_lock = threading.Lock()


def add_process_backend(backend: TraceBackend) -> None:
    """Deliver every event of every tracer in this process to ``backend`` too (idempotent)."""
    global _process_backends
    with _process_lock:
        if all(b is not backend for b in _process_backends):
            _process_backends = [*_process_backends, backend]


def remove_process_backend(backend: TraceBackend) -> None:
    global _process_backends
    with _process_lock:
        _process_backends = [b for b in _process_backends if b is not backend]


class Tracer:
    """Sends each event to its backends; :meth:`trace` never raises."""

    def __init__(self, backends: Iterable[TraceBackend] = ()) -> None:
        self._backends: list[TraceBackend] = list(backends)
        self._lock = threading.Lock()
        # backends running in this thread: an event raised while a backend runs (the storage
        # backend connecting its storage traces STORAGE_CONNECT) must not loop back into it
        self._active = threading.local()

    @classmethod
    def from_entries(cls, entries: Iterable[TraceEntry], storage_lookup: StorageLookup | None = None) -> Tracer:
        """Build from ``config.global_config.trace``; an entry that cannot be built is logged, not fatal."""
        backends: list[TraceBackend] = []
        for entry in entries:
            try:
                backend = build_backend(entry, storage_lookup)
            except Exception:
                logger.exception("cannot set up the %s trace entry %r; it is ignored", entry.kind, dict(entry.options))
                continue
            if backend is not None:
                backends.append(backend)
        return cls(backends)

    @property
    def backends(self) -> tuple[TraceBackend, ...]:
        return tuple(self._backends)

    @property
    def enabled(self) -> bool:
        """False when nothing listens: callers may skip building expensive details."""
        return bool(self._backends or _process_backends)

    def add_backend(self, backend: TraceBackend) -> None:
        with self._lock:
            self._backends = [*self._backends, backend]

    def remove_backend(self, backend: TraceBackend) -> None:
        with self._lock:
            self._backends = [b for b in self._backends if b is not backend]

    def trace(self, event: int, details: Mapping[str, Any] | None = None, **more: Any) -> None:
        """Deliver ``event`` with ``details`` (plus keyword details) to every backend."""
        backends = [*self._backends, *_process_backends]
        if not backends:
            return
        message = {**(details or {}), **more}
        active: set[int] = getattr(self._active, "ids", None) or set()
        self._active.ids = active
        for backend in backends:
            if id(backend) in active:
                continue
            active.add(id(backend))
            try:
                # each backend gets its own copy: one mutating it must not change what others see
                backend(event, dict(message))
            except Exception:
                logger.exception("trace backend %r failed on %s", backend, Trace.event2str(event))
            finally:
                active.discard(id(backend))

    __call__ = trace
