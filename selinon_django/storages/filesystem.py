"""Results as JSON files under a directory: ``<path>/<task_name>/<task_id>.json`` (errors in
``<path>/<task_name>/errors/``).

Writes go to a temporary file in the same directory and are renamed into place, so a reader
(another worker) never sees half a result.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from selinon_django.storages.base import DataStorage, ExcInfo, SelinonMissingDataException, error_record


def _component(name: str) -> str:
    """A task name or id as one safe path component (no separators, no ``..``)."""
    text = quote(str(name), safe="-_")
    return "%2E" + text[1:] if text.startswith(".") else text


class FilesystemStorage(DataStorage):
    def __init__(self, path: str | os.PathLike[str] | None = None, **_: Any) -> None:
        super().__init__()
        if path is None:
            raise ValueError("FilesystemStorage needs a 'path' in its configuration")
        self.path = Path(path)
        self._connected = False

    def is_connected(self) -> bool:
        return self._connected

    def connect(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self._connected = True

    def disconnect(self) -> None:
        self._connected = False

    def _file(self, task_name: str, task_id: str, error: bool = False) -> Path:
        # errors live in a sub-directory: no task id can make a result file collide with them
        folder = self.path / _component(task_name)
        if error:
            folder = folder / "errors"
        return folder / f"{_component(task_id)}.json"

    def _write(self, target: Path, document: Any) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _read(self, target: Path, what: str) -> Any:
        try:
            with target.open(encoding="utf-8") as handle:
                return json.load(handle)
        except FileNotFoundError:
            raise SelinonMissingDataException(f"no {what}: {target} does not exist") from None

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        return self._read(self._file(task_name, task_id), "result")["result"]

    def store(self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any) -> Any:
        target = self._file(task_name, task_id)
        document = {
            "flow_name": flow_name, "task_name": task_name, "task_id": task_id,
            "node_args": node_args, "result": result,
        }
        self._write(target, document)
        return str(target)

    def store_error(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: ExcInfo | tuple[Any, Any, Any]
    ) -> Any:
        target = self._file(task_name, task_id, error=True)
        document = {
            "flow_name": flow_name, "task_name": task_name, "task_id": task_id,
            "node_args": node_args, "error": error_record(exc_info),
        }
        self._write(target, document)
        return str(target)

    def retrieve_error(self, flow_name: str, task_name: str, task_id: str) -> Any:
        return self._read(self._file(task_name, task_id, error=True), "error")["error"]

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        self._file(task_name, task_id).unlink(missing_ok=True)
        self._file(task_name, task_id, error=True).unlink(missing_ok=True)


#: Selinon's class name (``selinon.storages.filesystem.Filesystem``)
Filesystem = FilesystemStorage
