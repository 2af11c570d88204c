"""In-memory :class:`~selinon_django.engine.ports.Ports` and a tiny whole-flow simulator.

Meant for tests (of the engine and of anything built on it): :class:`FakePorts` answers every
port from dictionaries, and :class:`Simulator` drives a flow and all its sub-flows to the end
with tasks that complete instantly, recording every node instance the way the run report of
``selinon_execute`` does. It is deliberately naive (no clock, no concurrency): the point is to
check *which* nodes start, with which parents and node_args, not how fast.
"""
from __future__ import annotations

import importlib
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from selinon_django.config.model import ImportRef, NodeKind, SystemConfig
from selinon_django.engine.actions import (
    FailFlow,
    FinishFlow,
    Reschedule,
    RetryFlow,
    ReuseTask,
    StartFlow,
    StartTask,
    TraceEvent,
)
from selinon_django.engine.dispatcher import StepResult, step
from selinon_django.engine.ports import NodeStatus
from selinon_django.engine.selective_plan import SelectivePlan
from selinon_django.engine.state import FlowState
from selinon_django.errors import FatalTaskError

__all__ = ["FakePorts", "FlowRunRecord", "NodeRecord", "Simulator", "TaskCall", "constant_strategy"]


def constant_strategy(status: Mapping[str, Any], retry: float = 1, **_ignored: Any) -> float | None:
    """A sampling strategy for tests: look again after ``retry`` while anything is active.

    It stands in for the default strategy (whose YAML args it ignores) so simulated runs do
    not depend on the strategies module.
    """
    return retry if status["active_nodes"] else None


class FakePorts:
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
        self.statuses: dict[str, NodeStatus] = {}
        self.results: dict[str, Any] = {}
        self.subflow_nodes: dict[str, dict[str, list[str]]] = {}
        self.predicates = dict(predicates or {})
        self.strategies = {"biexponential_increase": constant_strategy, **(strategies or {})}
        self.functions = dict(functions or {})
        self.throttle = throttle
        self.result_reads: list[tuple[str, str]] = []
        self.throttle_calls: list[tuple[NodeKind, str, float]] = []
        self.foreach_calls: list[tuple[str, Any, dict[str, Any]]] = []
        self._counter = itertools.count(1)

    # -- what tests set up ---------------------------------------------------------------------

    def succeed(self, node_id: str, result: Any = None) -> None:
        self.statuses[node_id] = NodeStatus.SUCCEEDED
        self.results[node_id] = result

    def fail(self, node_id: str) -> None:
        self.statuses[node_id] = NodeStatus.FAILED

    def finish_subflow(self, run_id: str, finished_nodes: Mapping[str, Sequence[str]]) -> None:
        self.statuses[run_id] = NodeStatus.SUCCEEDED
        self.subflow_nodes[run_id] = {name: list(ids) for name, ids in finished_nodes.items()}

    # -- the Ports protocol --------------------------------------------------------------------

    def node_status(self, kind: NodeKind, name: str, node_id: str) -> NodeStatus:
        return self.statuses.get(node_id, NodeStatus.PENDING)

    def task_result(self, task_name: str, task_id: str) -> Any:
        self.result_reads.append((task_name, task_id))
        return self.results.get(task_id)

    def subflow_finished_nodes(self, flow_name: str, run_id: str) -> Mapping[str, Sequence[str]]:
        return self.subflow_nodes.get(run_id, {})

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


@dataclass(frozen=True)
class TaskCall:
    """What a simulated task is given (and its attempt number, from 1)."""

    name: str
    id: str
    flow_name: str
    parent: Mapping[str, Any] | None
    node_args: Any
    attempt: int


@dataclass
class NodeRecord:
    """One node instance a flow started, as in the run report."""

    name: str
    kind: NodeKind
    id: str
    parent: Mapping[str, Any] | None
    node_args: Any
    status: str = "running"
    attempts: int = 0
    result: Any = None
    fallback: bool = False
    nowait: bool = False
    reused: bool = False
    countdown: float | None = None
    run: FlowRunRecord | None = None

    @classmethod
    def started(cls, start: StartTask | StartFlow, run: FlowRunRecord | None = None) -> NodeRecord:
        """The record of a node the engine asked to start (``run``: a sub-flow's own run)."""
        return cls(
            name=start.name,
            kind="task" if isinstance(start, StartTask) else "flow",
            id=start.id,
            parent=start.parent,
            node_args=start.node_args,
            fallback=start.fallback,
            nowait=start.nowait,
            countdown=start.countdown,
            run=run,
        )


@dataclass
class FlowRunRecord:
    """One flow run: what it was given, every node it started (in start order) and how it ended."""

    flow: str
    id: str
    node_args: Any
    parent: Mapping[str, Any] | None
    selective: Mapping[str, Any] | None = None
    status: str = "running"
    state: FlowState | None = None
    retried_count: int = 0
    previous_retry: float | None = None
    nodes: list[NodeRecord] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    outcome: Any = None
    original_node_args: Any = None

    @property
    def traces(self) -> list[TraceEvent]:
        return [event for result in self.steps for event in result.traces]

    def named(self, name: str) -> list[NodeRecord]:
        """The instances of ``name`` this run started, in start order."""
        return [node for node in self.nodes if node.name == name]

    def subrun(self, name: str, index: int = 0) -> FlowRunRecord:
        """The run of the ``index``-th instance of sub-flow ``name`` started by this run."""
        run = self.named(name)[index].run
        if run is None:
            raise LookupError(f"{name!r} #{index} is not a sub-flow run")
        return run

    def counts(self) -> dict[str, int]:
        """How many instances of each node name this run started."""
        result: dict[str, int] = {}
        for node in self.nodes:
            result[node.name] = result.get(node.name, 0) + 1
        return result

    def report(self) -> dict[str, Any]:
        """The run report shape of ``selinon_execute --report`` (results included)."""
        nodes: list[dict[str, Any]] = []
        for node in self.nodes:
            entry: dict[str, Any] = {
                "name": node.name,
                "kind": node.kind,
                "id": node.id,
                "status": node.status,
                "parent": node.parent,
                "node_args": node.node_args,
            }
            if node.kind == "task":
                entry.update(attempts=node.attempts, result=node.result)
            elif node.run is not None:
                entry["run"] = node.run.report()
            nodes.append(entry)
        return {"flow": self.flow, "id": self.id, "status": self.status, "node_args": self.node_args, "nodes": nodes}


Behaviour = Callable[[TaskCall], Any]


class Simulator:
    """Run a flow to its end on :class:`FakePorts`, tasks finishing as soon as they start.

    ``behaviour(call)`` plays a task: its return value is the result, an exception is a failure
    (retried up to the task's ``max_retry`` unless it is :class:`FatalTaskError`). Flows are
    stepped round-robin; ``max_steps`` guards against flows that never end.
    """

    def __init__(
        self,
        config: SystemConfig,
        behaviour: Behaviour | None = None,
        *,
        ports: FakePorts | None = None,
        max_steps: int = 10_000,
    ) -> None:
        self.config = config
        self.behaviour: Behaviour = behaviour or (lambda call: None)
        self.ports = ports or FakePorts()
        self.max_steps = max_steps
        self.queue: deque[FlowRunRecord] = deque()
        self.runs: dict[str, FlowRunRecord] = {}

    def run(
        self,
        flow_name: str,
        node_args: Any = None,
        *,
        parent: Mapping[str, Any] | None = None,
        selective: SelectivePlan | Mapping[str, Any] | None = None,
    ) -> FlowRunRecord:
        plan = SelectivePlan.coerce(selective)
        root = self._new_run(
            flow_name, self.ports.new_id("flow", flow_name), node_args, parent, plan.to_dict() if plan else None
        )
        self._drain(flow_name)
        return root

    def _drain(self, flow_name: str) -> None:
        """Handle scheduled work until none is left (subclasses keep their own event order)."""
        steps = 0
        while self.queue:
            steps += 1
            if steps > self.max_steps:
                raise RuntimeError(f"flow {flow_name!r} did not finish in {self.max_steps} steps")
            self._step(self.queue.popleft())

    def _new_run(
        self,
        flow_name: str,
        run_id: str,
        node_args: Any,
        parent: Mapping[str, Any] | None,
        selective: Any,
        countdown: float | None = None,
    ) -> FlowRunRecord:
        record = FlowRunRecord(
            flow=flow_name,
            id=run_id,
            node_args=node_args,
            parent=parent,
            selective=selective,
            original_node_args=node_args,
        )
        self.runs[run_id] = record
        self._schedule(record, countdown)
        return record

    def _schedule(self, run: FlowRunRecord, countdown: float | None) -> None:
        """Step ``run`` again (``countdown``: the delay the engine asked for).

        The simulator has no clock and steps flows round-robin; an executor with a clock
        (:mod:`selinon_django.runtime.inprocess`) overrides this to honour the delay.
        """
        self.queue.append(run)

    def _step(self, run: FlowRunRecord) -> None:
        result = step(
            self.config,
            run.flow,
            run.state,
            node_args=run.node_args,
            parent=run.parent,
            ports=self.ports,
            selective=run.selective,
            retried_count=run.retried_count,
            previous_retry=run.previous_retry,
            dispatcher_id=run.id,
        )
        run.steps.append(result)
        run.state = result.state
        run.node_args = result.node_args
        for start in result.starts:
            if isinstance(start, StartTask):
                run.nodes.append(self._execute(run, start))
            elif isinstance(start, StartFlow):
                child = self._new_run(
                    start.name, start.id, start.node_args, start.parent, start.selective, start.countdown
                )
                run.nodes.append(NodeRecord.started(start, child))
            elif isinstance(start, ReuseTask):
                run.nodes.append(
                    NodeRecord(
                        name=start.name,
                        kind="task",
                        id=start.id,
                        parent=start.parent,
                        node_args=start.node_args,
                        status="succeeded",
                        reused=True,
                        result=self.ports.results.get(start.id),
                    )
                )
        outcome = result.outcome
        run.outcome = outcome
        if isinstance(outcome, Reschedule):
            run.previous_retry = outcome.countdown
            self._schedule(run, outcome.countdown)
        elif isinstance(outcome, FinishFlow):
            run.status = "succeeded"
            self.ports.finish_subflow(run.id, outcome.result["finished_nodes"])
            self._mark_flow_node(run)
        elif isinstance(outcome, FailFlow):
            run.status = "failed"
            self.ports.fail(run.id)
            self._mark_flow_node(run)
        elif isinstance(outcome, RetryFlow):
            run.retried_count = outcome.retried_count
            run.state = None
            run.previous_retry = None
            run.node_args = run.original_node_args
            self._schedule(run, outcome.countdown)

    def _mark_flow_node(self, run: FlowRunRecord) -> None:
        for other in self.runs.values():
            for node in other.nodes:
                if node.run is run:
                    node.status = run.status

    def _execute(self, run: FlowRunRecord, start: StartTask) -> NodeRecord:
        record = NodeRecord.started(start)
        max_retry = self.config.tasks[start.name].max_retry
        while True:
            record.attempts += 1
            call = TaskCall(start.name, start.id, run.flow, start.parent, start.node_args, record.attempts)
            try:
                result = self.behaviour(call)
            except FatalTaskError:
                break
            except Exception:
                if record.attempts <= max_retry:
                    continue
                break
            record.status = "succeeded"
            record.result = result
            self.ports.succeed(start.id, result)
            return record
        record.status = "failed"
        self.ports.fail(start.id)
        return record
