"""A flow and all its sub-flows driven to their end in this process, on the pure engine.

:class:`Simulator` applies what a dispatcher step returns (start tasks and sub-flow runs, record
reused tasks, finish, fail or retry flows) and records every node instance the way the run
report of ``selinon_execute`` shows it (:class:`FlowRunRecord`, :class:`NodeRecord`). Tasks
finish as soon as they start and flows are stepped round-robin, without a clock: the point is
*which* nodes start, with which parents and node_args. Production code builds on it - the
in-process executor (:mod:`selinon_django.runtime.inprocess`) adds a clock and the real tasks -
and so do tests (:mod:`selinon_django.engine.testing` adds ports answered from dictionaries).

The ports of a simulation keep node outcomes in memory (:class:`NodeOutcomes`): what finished,
with which result, and the finished nodes of sub-flow runs.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from selinon_django.config.model import NodeKind, SystemConfig
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
from selinon_django.engine.ports import NodeStatus, Ports
from selinon_django.engine.selective_plan import SelectivePlan
from selinon_django.engine.state import FlowState
from selinon_django.errors import FatalTaskError

__all__ = [
    "Behaviour",
    "FlowRunRecord",
    "NodeOutcomes",
    "NodeRecord",
    "SimulationPorts",
    "Simulator",
    "TaskCall",
]


class NodeOutcomes:
    """Node outcomes kept in memory: the part of :class:`~selinon_django.engine.ports.Ports` a
    simulation answers itself (statuses, task results, finished nodes of sub-flow runs)."""

    def __init__(self) -> None:
        self.statuses: dict[str, NodeStatus] = {}
        self.results: dict[str, Any] = {}
        self.subflow_nodes: dict[str, dict[str, list[str]]] = {}

    def succeed(self, node_id: str, result: Any = None) -> None:
        self.statuses[node_id] = NodeStatus.SUCCEEDED
        self.results[node_id] = result

    def fail(self, node_id: str) -> None:
        self.statuses[node_id] = NodeStatus.FAILED

    def finish_subflow(self, run_id: str, finished_nodes: Mapping[str, Sequence[str]]) -> None:
        self.statuses[run_id] = NodeStatus.SUCCEEDED
        self.subflow_nodes[run_id] = {name: list(ids) for name, ids in finished_nodes.items()}

    def node_status(self, kind: NodeKind, name: str, node_id: str) -> NodeStatus:
        return self.statuses.get(node_id, NodeStatus.PENDING)

    def task_result(self, task_name: str, task_id: str) -> Any:
        return self.results.get(task_id)

    def subflow_finished_nodes(self, flow_name: str, run_id: str) -> Mapping[str, Sequence[str]]:
        return self.subflow_nodes.get(run_id, {})


class SimulationPorts(Ports, Protocol):
    """The ports a :class:`Simulator` drives: the engine's, plus recording node outcomes."""

    results: dict[str, Any]

    def succeed(self, node_id: str, result: Any = None) -> None: ...

    def fail(self, node_id: str) -> None: ...

    def finish_subflow(self, run_id: str, finished_nodes: Mapping[str, Sequence[str]]) -> None: ...


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
    """Run a flow to its end on in-memory ports, tasks finishing as soon as they start.

    ``behaviour(call)`` plays a task: its return value is the result, an exception is a failure
    (retried up to the task's ``max_retry`` unless it is :class:`FatalTaskError`). Flows are
    stepped round-robin; ``max_steps`` guards against flows that never end.
    """

    def __init__(
        self,
        config: SystemConfig,
        behaviour: Behaviour | None = None,
        *,
        ports: SimulationPorts,
        max_steps: int = 10_000,
    ) -> None:
        self.config = config
        self.behaviour: Behaviour = behaviour or (lambda call: None)
        self.ports = ports
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
