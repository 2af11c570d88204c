"""In-memory :class:`~selinon_django.engine.ports.Ports` for tests, and the simulator on them.

Meant for tests (of the engine and of anything built on it): :class:`FakePorts` answers every
port from dictionaries and logs the calls that matter, and :class:`Simulator` is the engine's
whole-flow driver (:mod:`selinon_django.engine.simulation`) on :class:`FakePorts` by default.
Production code never imports this module.
"""
from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from selinon_django.config.model import ImportRef, NodeKind, SystemConfig
from selinon_django.engine import simulation
from selinon_django.engine.simulation import Behaviour, FlowRunRecord, NodeOutcomes, NodeRecord, TaskCall

__all__ = ["FakePorts", "FlowRunRecord", "NodeRecord", "Simulator", "TaskCall", "constant_strategy"]


def constant_strategy(status: Mapping[str, Any], retry: float = 1, **_ignored: Any) -> float | None:
    """A sampling strategy for tests: look again after ``retry`` while anything is active.

    It stands in for the default strategy (whose YAML args it ignores) so simulated runs do
    not depend on the strategies module.
    """
    return retry if status["active_nodes"] else None


class FakePorts(NodeOutcomes):
    """Ports answered from dictionaries; every call that matters is logged for assertions.

    ``predicates``/``strategies``/``functions`` map a name (or ``module.name``) to a callable;
    anything not registered is imported for real. ``functions`` covers foreach functions
    (called as ``fn(storage_pool, node_args)`` with ``storage_pool=None``) and selective run
    functions (called as ``fn(flow_name, node_name, node_args, task_names, storage_pool)``).
    """

    def __init__(
        self,
        *,
        predicates: Mapping[str, Callable[..., Any]] | None = None,
        strategies: Mapping[str, Callable[..., Any]] | None = None,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        throttle: Callable[[NodeKind, str, float], float | None] | None = None,
    ) -> None:
        super().__init__()
        self.predicates = dict(predicates or {})
        self.strategies = {"biexponential_increase": constant_strategy, **(strategies or {})}
        self.functions = dict(functions or {})
        self.throttle = throttle
        self.result_reads: list[tuple[str, str]] = []
        self.throttle_calls: list[tuple[NodeKind, str, float]] = []
        self.foreach_calls: list[tuple[str, Any, dict[str, Any]]] = []
        self._counter = itertools.count(1)

    # -- the Ports protocol (statuses and sub-flow nodes: NodeOutcomes) ----------------------

    def task_result(self, task_name: str, task_id: str) -> Any:
        self.result_reads.append((task_name, task_id))
        return super().task_result(task_name, task_id)

    def foreach_items(self, function: ImportRef, node_args: Any, parent: Mapping[str, Any]) -> Iterable[Any]:
        self.foreach_calls.append((function.dotted, node_args, dict(parent)))
        return self._function(function)(None, node_args)

    def new_id(self, kind: NodeKind, name: str) -> str:
        return f"{'task' if kind == 'task' else 'run'}-{next(self._counter)}"

    def throttle_countdown(self, kind: NodeKind, name: str, interval: float) -> float | None:
        self.throttle_calls.append((kind, name, interval))
        return self.throttle(kind, name, interval) if self.throttle else None

    def load_predicate(self, module: str, name: str) -> Callable[..., Any]:
        return self._lookup(self.predicates, module, name)

    def load_strategy(self, module: str, name: str) -> Callable[..., Any]:
        return self._lookup(self.strategies, module, name)

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
        return self._function(function)(flow_name, node_name, node_args, list(task_names), None)

    # -- helpers -------------------------------------------------------------------------------

    def _function(self, ref: ImportRef) -> Callable[..., Any]:
        return self._lookup(self.functions, ref.module, ref.name)

    @staticmethod
    def _lookup(registry: Mapping[str, Callable[..., Any]], module: str, name: str) -> Callable[..., Any]:
        for key in (f"{module}.{name}", name):
            if key in registry:
                return registry[key]
        return getattr(importlib.import_module(module), name)


class Simulator(simulation.Simulator):
    """The engine's whole-flow driver on :class:`FakePorts` unless told otherwise."""

    def __init__(
        self,
        config: SystemConfig,
        behaviour: Behaviour | None = None,
        *,
        ports: FakePorts | None = None,
        max_steps: int = 10_000,
    ) -> None:
        super().__init__(config, behaviour, ports=ports if ports is not None else FakePorts(), max_steps=max_steps)
