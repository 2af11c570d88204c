"""Results in the project's database (model ``StoredResult``): the demo's default storage, and
the one that needs no extra server."""
from __future__ import annotations

from typing import Any

from selinon_django.storages.base import DataStorage, ExcInfo, SelinonMissingDataException, error_record


class DjangoStorage(DataStorage):
    """``database`` picks a ``DATABASES`` alias (default: the router's choice).

    Django opens connections per thread on demand, so connect/disconnect only track state.
    """

    def __init__(self, database: str | None = None, **_: Any) -> None:
        super().__init__()
        self.database = database
        self._connected = False

    def is_connected(self) -> bool:
        return self._connected

    def connect(self) -> None:
        self._connected = True

    def disconnect(self) -> None:
        self._connected = False

    def _manager(self) -> Any:
        from selinon_django.models.results import StoredResult

        objects = StoredResult.objects
        return objects.using(self.database) if self.database else objects

    def _row(self, task_name: str, task_id: str) -> Any:
        from selinon_django.models.results import StoredResult

        try:
            return self._manager().get(task_name=task_name, task_id=task_id)
        except StoredResult.DoesNotExist:
            raise SelinonMissingDataException(f"no stored result of {task_name} {task_id}") from None

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        row = self._row(task_name, task_id)
        if not row.has_result:
            raise SelinonMissingDataException(f"{task_name} {task_id} has no result stored (only an error)")
        return row.result

    def store(self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any) -> Any:
        row, _ = self._manager().update_or_create(
            task_name=task_name,
            task_id=task_id,
            defaults={"flow_name": flow_name, "node_args": node_args, "result": result, "has_result": True},
        )
        return row.pk

    def store_error(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: ExcInfo | tuple[Any, Any, Any]
    ) -> Any:
        row, _ = self._manager().update_or_create(
            task_name=task_name,
            task_id=task_id,
            defaults={"flow_name": flow_name, "node_args": node_args, "error": error_record(exc_info)},
        )
        return row.pk

    def retrieve_error(self, flow_name: str, task_name: str, task_id: str) -> Any:
        row = self._row(task_name, task_id)
        if row.error is None:
            raise SelinonMissingDataException(f"{task_name} {task_id} has no error stored")
        return row.error

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        self._manager().filter(task_name=task_name, task_id=task_id).delete()
