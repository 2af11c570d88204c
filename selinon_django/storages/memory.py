"""Results in this process's memory: for ``selinon_execute`` and tests, not for several workers."""
from __future__ import annotations

import json
import threading
from typing import Any

from selinon_django.storages.base import DataStorage, ExcInfo, SelinonMissingDataException, error_record


def _copy(value: Any) -> Any:
    """A JSON round trip: what comes back is what a database-backed storage would return, and a
    caller mutating a retrieved result cannot change the stored one."""
    return json.loads(json.dumps(value))


class InMemoryStorage(DataStorage):
    """``echo: true`` prints every stored result, as Selinon's adapter does."""

    def __init__(self, echo: bool = False, **_: Any) -> None:
        super().__init__()
        self.echo = echo
        self._lock = threading.Lock()
        self._results: dict[tuple[str, str], dict[str, Any]] = {}
        self._errors: dict[tuple[str, str], dict[str, Any]] = {}
        self._connected = False

    def is_connected(self) -> bool:
        return self._connected

    def connect(self) -> None:
        self._connected = True

    def disconnect(self) -> None:
        self._connected = False

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        with self._lock:
            record = self._results.get((task_name, task_id))
        if record is None:
            raise SelinonMissingDataException(f"no result of {task_name} {task_id} in memory")
        return _copy(record["result"])

    def store(self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any) -> Any:
        record = {"flow_name": flow_name, "node_args": _copy(node_args), "result": _copy(result)}
        with self._lock:
            self._results[(task_name, task_id)] = record
        if self.echo:
            print(f"{flow_name}/{task_name}/{task_id}: {json.dumps(result, sort_keys=True)}")
        return task_id

    def store_error(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: ExcInfo | tuple[Any, Any, Any]
    ) -> Any:
        record = error_record(exc_info)
        with self._lock:
            self._errors[(task_name, task_id)] = record
        return task_id

    def retrieve_error(self, flow_name: str, task_name: str, task_id: str) -> Any:
        with self._lock:
            record = self._errors.get((task_name, task_id))
        if record is None:
            raise SelinonMissingDataException(f"no error of {task_name} {task_id} in memory")
        return _copy(record)

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        with self._lock:
            self._results.pop((task_name, task_id), None)
            self._errors.pop((task_name, task_id), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._results)
