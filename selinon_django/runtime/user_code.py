"""The engine ports that call code named in YAML, shared by the Celery runtime and the
in-process executor (no Django, no Celery here), so both run user code the same way.

Foreach and selective run functions get Selinon's ``storage_pool`` argument: its
``get(task_name)`` is the result of the parent of that name on the edge that fired; anything
else is the real :class:`StoragePool`.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from selinon_django.config.imports import import_object, resolve_module
from selinon_django.config.model import ImportRef, NodeKind
from selinon_django.predicates.declared import declared_predicate
from selinon_django.storages.pool import StoragePool


class ParentResults:
    """``storage_pool`` as foreach and selective run functions see it."""

    def __init__(self, pool: StoragePool, parent: Mapping[str, Any], result_of: Callable[[str, str], Any]) -> None:
        self.pool = pool
        self.parent = dict(parent)
        self._result_of = result_of

    def get(self, task_name: str, flow_name: str | None = None) -> Any:
        return self._result_of(task_name, self.parent[task_name])

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)


class UserCodePorts:
    """Mixin: foreach functions, selective run functions, predicates, strategies and node ids.

    The class it is mixed into provides ``pool`` and ``task_result(task_name, task_id)``.
    """

    pool: StoragePool
    task_result: Callable[[str, str], Any]
    #: modules whose every public function is a predicate (``PREDICATES_MODULES``)
    predicate_modules: tuple[str, ...] = ()

    def foreach_items(self, function: ImportRef, node_args: Any, parent: Mapping[str, Any]) -> Iterable[Any]:
        fn = import_object(resolve_module(function.module), function.name)
        return list(fn(ParentResults(self.pool, parent, self.task_result), node_args) or ())

    def selective_run(
        self,
        function: ImportRef,
        *,
        flow_name: str,
        node_name: str,
        node_args: Any,
        task_names: Sequence[str],
        parent: Mapping[str, Any],
    ) -> str | None:
        fn = import_object(resolve_module(function.module), function.name)
        pool = ParentResults(self.pool, parent, self.task_result)
        answer = fn(flow_name, node_name, node_args, list(task_names), pool)
        return None if answer is None else str(answer)

    def load_predicate(self, module: str, name: str) -> Callable[..., Any]:
        """Only a built-in or declared predicate (a name in YAML is not a licence to call any
        function of a module: see :mod:`selinon_django.predicates.declared`)."""
        return declared_predicate(resolve_module(module), name, self.predicate_modules)

    def load_strategy(self, module: str, name: str) -> Callable[..., Any]:
        fn: Callable[..., Any] = import_object(resolve_module(module), name)
        return fn

    def new_id(self, kind: NodeKind, name: str) -> str:
        return str(uuid.uuid4())
