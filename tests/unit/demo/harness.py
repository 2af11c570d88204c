"""Run a demo flow to its end on the real engine with the real demo task classes.

The engine's :class:`~selinon_django.engine.testing.Simulator` drives the dispatcher; each task
attempt goes through :func:`selinon_django.runtime.execution.run_attempt` (the code the Celery
envelope and the in-process executor share), so output_schema validation, storage and tracing
happen as in a real run. The storages are in-memory adapters set on a private pool, so no
database is needed and nothing leaks between tests.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from selinon_django.config.model import ImportRef, SystemConfig
from selinon_django.engine.testing import FakePorts, FlowRunRecord, NodeRecord, Simulator, TaskCall, constant_strategy
from selinon_django.errors import FatalTaskError
from selinon_django.runtime.execution import Failed, Retry, Succeeded, run_attempt
from selinon_django.storages.memory import InMemoryStorage
from selinon_django.storages.pool import StoragePool


class ParentBoundPool:
    """Selinon's ``StoragePool.get(task_name)`` view for foreach and selective run functions:
    the result of the named parent of the edge that fired."""

    def __init__(self, pool: StoragePool, flow_name: str, parent: Mapping[str, Any]) -> None:
        self.pool = pool
        self.flow_name = flow_name
        self.parent = dict(parent)

    def get(self, task_name: str) -> Any:
        return self.pool.retrieve(self.flow_name, task_name, self.parent[task_name])


class DemoPorts(FakePorts):
    """FakePorts whose foreach/selective functions get a storage pool bound to the edge's parents."""

    def __init__(self, pool: StoragePool) -> None:
        super().__init__(strategies={"constant": constant_strategy})
        self.pool = pool
        self.current_flow = ""

    def foreach_items(self, function: ImportRef, node_args: Any, parent: Mapping[str, Any]) -> list[Any]:
        self.foreach_calls.append((function.dotted, node_args, dict(parent)))
        return list(self._function(function)(ParentBoundPool(self.pool, self.current_flow, parent), node_args))

    def selective_run(
        self,
        function: ImportRef,
        *,
        flow_name: str,
        node_name: str,
        node_args: Any,
        task_names: Any,
        parent: Mapping[str, Any],
    ) -> str | None:
        bound = ParentBoundPool(self.pool, flow_name, parent)
        result: str | None = self._function(function)(flow_name, node_name, node_args, list(task_names), bound)
        return result


class _CountedRetry(Exception):
    """run_attempt asked for a retry that counts: let the simulator use up max_retry."""


class DemoSimulator(Simulator):
    def __init__(self, config: SystemConfig, pool: StoragePool) -> None:
        self.pool = pool
        self.demo_ports = DemoPorts(pool)
        self.current_run: FlowRunRecord | None = None
        self.user_retries: dict[str, int] = {}
        self.failures: dict[str, str] = {}
        super().__init__(config, self._attempt, ports=self.demo_ports)

    def _step(self, run: FlowRunRecord) -> None:
        self.demo_ports.current_flow = run.flow
        super()._step(run)

    def _execute(self, run: FlowRunRecord, start: Any) -> NodeRecord:
        self.current_run = run
        return super()._execute(run, start)

    def _attempt(self, call: TaskCall) -> Any:
        assert self.current_run is not None
        while True:
            outcome = run_attempt(
                self.config,
                self.pool,
                flow_name=call.flow_name,
                task_name=call.name,
                task_id=call.id,
                dispatcher_id=self.current_run.id,
                parent=call.parent,
                node_args=call.node_args,
                retried_count=call.attempt - 1,
            )
            if isinstance(outcome, Succeeded):
                return outcome.result
            if isinstance(outcome, Retry) and not outcome.counted:
                self.user_retries[call.id] = self.user_retries.get(call.id, 0) + 1
                if self.user_retries[call.id] > 5:
                    raise FatalTaskError("self.retry() loops")
                continue
            if isinstance(outcome, Retry):
                raise _CountedRetry(outcome.exception)
            assert isinstance(outcome, Failed)
            self.failures[call.id] = outcome.exception
            raise FatalTaskError(outcome.exception)  # final: the simulator must not retry again


@dataclass
class DemoRun:
    root: FlowRunRecord
    simulator: DemoSimulator
    runs: list[FlowRunRecord] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.root.status

    def walk(self, run: FlowRunRecord | None = None) -> Iterator[tuple[FlowRunRecord, NodeRecord]]:
        """Every node instance of the run and its sub-flows, with the run that started it."""
        run = run or self.root
        for node in run.nodes:
            yield run, node
            if node.run is not None:
                yield from self.walk(node.run)

    def nodes(self, name: str) -> list[NodeRecord]:
        return [node for _, node in self.walk() if node.name == name]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, node in self.walk():
            counts[node.name] = counts.get(node.name, 0) + 1
        return counts

    def statuses(self, name: str) -> list[str]:
        return [node.status for node in self.nodes(name)]

    def result(self, name: str, index: int = 0) -> Any:
        return self.nodes(name)[index].result

    def subflow(self, name: str, index: int = 0) -> FlowRunRecord:
        run = self.nodes(name)[index].run
        assert run is not None, f"{name} is not a sub-flow"
        return run


def run_demo_flow(
    config: SystemConfig, flow_name: str, node_args: Any = None, *, selective: Any = None
) -> DemoRun:
    pool = StoragePool(config)
    pool.set_storage("Results", InMemoryStorage())
    pool.set_storage("Memory", InMemoryStorage())
    simulator = DemoSimulator(config, pool)
    try:
        root = simulator.run(flow_name, node_args, selective=selective)
    finally:
        pool.clear()
    return DemoRun(root=root, simulator=simulator)
