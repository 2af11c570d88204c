"""``SelinonTask``: the base class of user tasks, with Selinon's API.

A ``SelinonTask`` is not a Celery task: the runtime's envelope builds one per run, calls
:meth:`SelinonTask.run`, validates the result (:func:`validate_output`) and stores it through
the storage pool. Everything a task reads about its flow (parents, their results and errors)
goes through the pool bound to the revision the run is pinned to.
"""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from jsonschema import exceptions as jsonschema_exceptions
from jsonschema import validators

from selinon_django.config.model import SystemConfig, thaw
from selinon_django.config.model import Task as TaskConfig
from selinon_django.errors import FatalTaskError, SelinonDjangoError
from selinon_django.storages.base import DataStorage, SelinonMissingDataException, exception_from_record
from selinon_django.storages.pool import StoragePool

__all__ = [
    "FatalTaskError",
    "OutputSchemaError",
    "ParentLookupError",
    "RequestedRetry",
    "SelinonTask",
    "validate_output",
]

#: ``(flow_name, task_name, task_id) -> exception or None``: where the runtime keeps failures
#: of tasks whose storage holds no error (no storage, read-only storage)
ExceptionLookup = Callable[[str, str, str], BaseException | None]


class RequestedRetry(SelinonDjangoError):
    """Raised by :meth:`SelinonTask.retry`: run this task again (same id) after ``countdown``
    seconds, without counting against ``max_retry``."""

    def __init__(self, countdown: float = 0) -> None:
        super().__init__(f"task requested a retry in {countdown} s")
        self.countdown = countdown


class ParentLookupError(SelinonDjangoError, LookupError):
    """A parent name, sub-flow path or instance index that the task's ``parent`` does not hold."""


class OutputSchemaError(SelinonDjangoError):
    """A task's result does not match its ``output_schema`` (counts as the task raising)."""

    def __init__(self, task_name: str, message: str, schema_path: str) -> None:
        super().__init__(f"result of {task_name} does not match {schema_path}: {message}")
        self.task_name = task_name
        self.schema_path = schema_path


class SelinonTask(ABC):
    """Subclass it and implement :meth:`run`; the runtime constructs it for each run."""

    def __init__(
        self,
        flow_name: str,
        task_name: str,
        parent: Mapping[str, Any] | None,
        task_id: str,
        dispatcher_id: str,
        *,
        storage_pool: StoragePool | None = None,
        config: SystemConfig | None = None,
        exception_lookup: ExceptionLookup | None = None,
    ) -> None:
        self._flow_name = flow_name
        self._task_name = task_name
        self._parent = parent
        self._task_id = task_id
        self._dispatcher_id = dispatcher_id
        if storage_pool is None and config is not None:
            storage_pool = StoragePool.for_config(config)
        self._storage_pool = storage_pool
        self._config = config if config is not None else (storage_pool.config if storage_pool else None)
        self._exception_lookup = exception_lookup
        self._log = logging.getLogger(f"{type(self).__module__}.{type(self).__qualname__}")

    @abstractmethod
    def run(self, node_args: Any) -> Any:
        """The computation; the return value is validated and stored as the task's result."""

    # --- what the task knows about itself ---

    @property
    def task_name(self) -> str:
        return self._task_name

    @property
    def flow_name(self) -> str:
        return self._flow_name

    @property
    def task_id(self) -> str:
        return self._task_id

    @property
    def dispatcher_id(self) -> str:
        return self._dispatcher_id

    @property
    def parent(self) -> Mapping[str, Any] | None:
        """Parent names mapped to task ids; propagated sub-flow nodes nest as ``{flow: {...}}``."""
        return self._parent

    @property
    def log(self) -> logging.Logger:
        return self._log

    @property
    def config(self) -> SystemConfig | None:
        return self._config

    @property
    def storage_pool(self) -> StoragePool:
        if self._storage_pool is None:
            raise RuntimeError(f"{self.task_name} was constructed without a storage pool or configuration")
        return self._storage_pool

    @property
    def storage(self) -> DataStorage | None:
        """The connected adapter of this task's storage (also when read-only), None without one."""
        if self._storage_pool is None:
            return None
        return self._storage_pool.get_storage_by_task_name(self.task_name)

    # --- parents ---

    def _parent_id(self, parent_name: str) -> str:
        parent = self._parent or {}
        if parent_name not in parent:
            known = ", ".join(sorted(parent)) or "none"
            raise ParentLookupError(f"{self.task_name} has no parent {parent_name!r} (parents: {known})")
        task_id = parent[parent_name]
        if not isinstance(task_id, str):
            raise ParentLookupError(
                f"parent {parent_name!r} of {self.task_name} is a sub-flow; use parent_flow_result()"
            )
        return task_id

    def _parent_flow_id(self, flow_names: str | Sequence[str], task_name: str, index: int | None) -> tuple[str, str]:
        """``(flow the task ran in, task id)`` of an instance in propagated sub-flow nodes.

        Works on the nested ``propagate_finished`` form (``['flow2', 'flow3']``) and on the
        flattened ``propagate_compound_finished`` form (``'flow2'``); a nested path given for a
        flattened mapping finds the task at the level where it sits.
        """
        names = [flow_names] if isinstance(flow_names, str) else list(flow_names)
        if not names:
            raise ParentLookupError("flow_names must name at least one sub-flow")
        node: Any = self._parent or {}
        walked: list[str] = []
        for name in names:
            if isinstance(node, Mapping) and isinstance(node.get(name), Mapping):
                node = node[name]
                walked.append(name)
            elif walked and isinstance(node, Mapping) and task_name in node:
                break  # flattened (compound) form: the task is already at this level
            else:
                where = "".join(f"[{n!r}]" for n in walked) or "parent"
                raise ParentLookupError(f"{self.task_name}: {where} holds no sub-flow {name!r}")
        ids = node.get(task_name) if isinstance(node, Mapping) else None
        if ids is None:
            where = "".join(f"[{n!r}]" for n in walked)
            raise ParentLookupError(f"{self.task_name}: no finished {task_name!r} in parent{where}")
        if isinstance(ids, str):
            ids = [ids]
        if index is None:
            index = -1
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"index must be an integer, not {index!r}")
        try:
            return walked[-1], ids[index]
        except IndexError:
            raise ParentLookupError(
                f"{self.task_name}: index {index} out of range, {task_name} ran {len(ids)} time(s) "
                f"in {'/'.join(walked)}"
            ) from None

    def parent_task_result(self, parent_name: str) -> Any:
        """The stored result of the direct parent ``parent_name`` (read with that task's
        storage and ``storage_task_name``)."""
        return self.storage_pool.retrieve(self.flow_name, parent_name, self._parent_id(parent_name))

    def parent_flow_result(self, flow_names: str | Sequence[str], task_name: str, index: int | None = None) -> Any:
        """The result of ``task_name`` run inside a parent sub-flow (``index``: which instance,
        default the last to finish)."""
        flow_name, task_id = self._parent_flow_id(flow_names, task_name, index)
        return self.storage_pool.retrieve(flow_name, task_name, task_id)

    def _exception(self, flow_name: str, task_name: str, task_id: str) -> BaseException:
        try:
            return exception_from_record(self.storage_pool.retrieve_error(flow_name, task_name, task_id))
        except (SelinonMissingDataException, NotImplementedError, LookupError) as storage_problem:
            if self._exception_lookup is not None:
                exc = self._exception_lookup(flow_name, task_name, task_id)
                if exc is not None:
                    return exc
            raise ParentLookupError(
                f"no stored error of {task_name} {task_id}: {storage_problem}"
            ) from storage_problem

    def parent_task_exception(self, parent_name: str) -> BaseException:
        """The exception the failed parent ``parent_name`` raised (call it from a fallback)."""
        return self._exception(self.flow_name, parent_name, self._parent_id(parent_name))

    def parent_flow_exception(
        self, flow_names: str | Sequence[str], task_name: str, index: int | None = None
    ) -> BaseException:
        """The exception ``task_name`` raised inside a parent sub-flow."""
        flow_name, task_id = self._parent_flow_id(flow_names, task_name, index)
        return self._exception(flow_name, task_name, task_id)

    # --- control ---

    @staticmethod
    def retry(countdown: float = 0) -> NoReturn:
        """Run this task again after ``countdown`` seconds; does not count against ``max_retry``.

        Always raises; unlike Celery's ``retry`` the arguments cannot be changed.
        """
        if isinstance(countdown, bool) or not isinstance(countdown, (int, float)) or countdown < 0:
            raise ValueError(f"countdown must be a non-negative number of seconds, not {countdown!r}")
        raise RequestedRetry(countdown)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.flow_name}/{self.task_name} {self.task_id}>"


def validate_output(task_config: TaskConfig, result: Any) -> None:
    """Check a result against the task's ``output_schema``; :class:`OutputSchemaError` if it does not match.

    The schema is the document read when the configuration was loaded (runs never read schema
    files); the validator class follows the schema's ``$schema`` (draft 2020-12 when it has none).
    """
    if task_config.output_schema is None:
        return
    schema = thaw(task_config.output_schema_document)
    if schema is None:
        raise OutputSchemaError(
            task_config.name,
            "this revision was stored without the schema document: load the configuration again",
            task_config.output_schema,
        )
    validator_cls = validators.validator_for(schema)
    error = jsonschema_exceptions.best_match(validator_cls(schema).iter_errors(result))
    if error is not None:
        location = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise OutputSchemaError(task_config.name, f"{location}: {error.message}", task_config.output_schema)
