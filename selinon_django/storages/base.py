"""The storage adapter interface (Selinon's ``DataStorage``) and the stored form of a task error.

Results are whatever JSON a task returns. Errors are stored as a JSON record (exception type,
message, arguments, formatted traceback) because an exception object or a traceback cannot be
serialised portably; :func:`exception_from_record` turns the record back into an exception for
``parent_task_exception``.
"""
from __future__ import annotations

import json
import sys
import traceback
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Any

from selinon_django.errors import SelinonDjangoError

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class SelinonMissingDataException(SelinonDjangoError, KeyError):
    """The storage holds no result (or no error) for the requested task id."""

    def __str__(self) -> str:
        # KeyError's own __str__ would repr the message
        return str(self.args[0]) if self.args else "no data"


class StorageError(SelinonDjangoError):
    """An adapter could not reach or use its backend (Selinon's ``selinon.errors.StorageError``).

    Adapters raise it from ``connect()`` with the storage's address in the message, so a worker's
    log says which server it could not reach instead of a driver's time-out text alone.
    """


class StoredTaskError(SelinonDjangoError):
    """A task's failure read back from a storage whose exception class cannot be rebuilt."""

    def __init__(self, type_name: str, message: str, traceback_text: str = "", module: str = "") -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.module = module
        self.message = message
        self.traceback_text = traceback_text


def _json_safe(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return None
    return value


def error_record(exc_info: ExcInfo | tuple[Any, Any, Any]) -> dict[str, Any]:
    """The JSON record a storage keeps for ``sys.exc_info()`` of a failed task."""
    exc_type, exc, tb = exc_info
    if exc_type is None and exc is not None:
        exc_type = type(exc)
    return {
        "type": getattr(exc_type, "__qualname__", str(exc_type)),
        "module": getattr(exc_type, "__module__", ""),
        "message": str(exc) if exc is not None else "",
        "args": _json_safe(list(getattr(exc, "args", ()))),
        "traceback": "".join(traceback.format_exception(exc_type, exc, tb)) if exc is not None else "",
    }


def exception_from_record(record: Any) -> BaseException:
    """The exception a task raised, rebuilt from its stored record.

    The original class is used only when its module is already imported (nothing is imported
    because of what a storage says) and it accepts the stored arguments; otherwise a
    :class:`StoredTaskError` carries type name, message and traceback.
    """
    if not isinstance(record, dict):
        return StoredTaskError("Error", str(record))
    type_name = str(record.get("type") or "Exception")
    module_name = str(record.get("module") or "")
    message = str(record.get("message") or "")
    tb_text = str(record.get("traceback") or "")
    cls: Any = sys.modules.get(module_name)
    for part in type_name.split("."):
        cls = getattr(cls, part, None) if cls is not None else None
    args = record.get("args")
    if isinstance(cls, type) and issubclass(cls, BaseException) and isinstance(args, list):
        try:
            exc = cls(*args)
        except Exception:
            exc = None
        if exc is not None:
            exc.add_note(f"(stored traceback)\n{tb_text}".rstrip())
            return exc
    return StoredTaskError(type_name, message, tb_text, module_name)


class DataStorage(ABC):
    """A storage adapter; YAML ``configuration:`` values arrive as constructor keyword arguments.

    One instance serves a whole worker process (see ``StoragePool``), so adapters must be
    safe to call from several threads.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # accepts anything, as Selinon's does, so adapters may pass their configuration up
        super().__init__()

    @abstractmethod
    def is_connected(self) -> bool:
        """Whether :meth:`connect` was done and the connection is usable."""

    @abstractmethod
    def connect(self) -> None:
        """Open the connection (empty when nothing needs opening)."""

    @abstractmethod
    def disconnect(self) -> None:
        """Close the connection."""

    @abstractmethod
    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """The stored result; :class:`SelinonMissingDataException` when there is none."""

    @abstractmethod
    def store(self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any) -> Any:
        """Keep a result; returns the id of the stored record."""

    def store_error(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: ExcInfo | tuple[Any, Any, Any]
    ) -> Any:
        """Keep a task's failure; returns the record id. Optional: the default says it is not done."""
        raise NotImplementedError

    def retrieve_error(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """The error record :meth:`store_error` kept (see :func:`error_record`). Optional."""
        raise NotImplementedError

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        """Forget a stored result. Optional."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
