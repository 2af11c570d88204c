"""Run a whole flow in this process, on the real engine, with the real tasks, on a simulated clock.

``selinon_execute`` uses it; tests use it to run flows end to end without a broker or workers.
It is the engine's :class:`~selinon_django.engine.simulation.Simulator` (which already knows how
to apply a dispatcher step: start sub-flow runs, record reused tasks, finish/fail/retry flows)
with three things changed:

- **time**: every delay the engine or a task asks for (sampling strategies, throttling, task
  ``retry_countdown`` and ``self.retry(countdown)``, flow ``retry_countdown``) is an event on a
  queue ordered by due time, and the clock jumps to the next event. A flow that would wait
  minutes for its retries finishes at once, and what happens when is still faithful. Events
  due at the same time run in the order they were scheduled (FIFO), so runs are deterministic.
- **tasks**: each attempt goes through :func:`selinon_django.runtime.execution.run_attempt`,
  exactly what the Celery envelope runs (output_schema, storing, the retry/failure decision).
- **ports**: results read back from the real storages, foreach and selective run functions
  and predicates and strategies imported for real, ids are uuids, throttling slots are
  reserved on the simulated clock.

Like Selinon's dispatcher, a flow learns that its nodes finished only when it next samples
(the sampling strategy's countdown); nothing wakes it earlier. That keeps the strategies
observable here. Nowait nodes are run too (they are in the report), although their flow does
not wait for them.
"""
from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from selinon_django.config.model import NodeKind, SystemConfig, thaw
from selinon_django.engine.actions import StartTask
from selinon_django.engine.selective import compute_selective
from selinon_django.engine.selective_plan import SelectivePlan
from selinon_django.engine.simulation import FlowRunRecord, NodeOutcomes, NodeRecord, Simulator
from selinon_django.engine.throttling import next_slot
from selinon_django.errors import SelinonDjangoError, UnknownFlowError
from selinon_django.runtime.execution import Failed, Retry, Succeeded, json_or_none, run_attempt
from selinon_django.runtime.user_code import UserCodePorts
from selinon_django.storages.base import StoredTaskError
from selinon_django.storages.pool import StoragePool
from selinon_django.trace.events import Trace

__all__ = ["ExecutionError", "ExecutionResult", "ExecutorPorts", "InProcessExecutor", "Progress", "execute_flow"]

#: ``progress(simulated_time, message)``: one call per node start/finish, retry and flow end
Progress = Callable[[float, str], None]


class ExecutionError(SelinonDjangoError):
    """The run could not go on: a dispatcher step raised, or it never ended (``max_events``)."""


class ExecutorPorts(UserCodePorts, NodeOutcomes):
    """The engine's ports for an in-process run: statuses in memory, everything else for real.

    It keeps :class:`NodeOutcomes`' bookkeeping of statuses and finished sub-flows (filled by the
    simulator) and answers the rest the way the Celery runtime does.
    """

    def __init__(self, config: SystemConfig, pool: StoragePool, clock: Callable[[], float]) -> None:
        super().__init__()
        self.config = config
        self.pool = pool
        self.clock = clock
        #: task id -> the flow it ran in (storages are asked with it)
        self.task_flows: dict[str, str] = {}
        self._throttle_slots: dict[tuple[str, str], float] = {}

    def task_result(self, task_name: str, task_id: str) -> Any:
        """From the task's storage when it writes one, else what the task returned."""
        if self.pool.stores_results(task_name) or task_id not in self.results:
            task = self.config.tasks.get(task_name)
            if task is not None and task.storage is not None:
                return self.pool.retrieve(self.task_flows.get(task_id, ""), task_name, task_id)
        return self.results.get(task_id)

    def throttle_countdown(self, kind: NodeKind, name: str, interval: float) -> float | None:
        key = (kind, name)
        slot = next_slot(self._throttle_slots.get(key), self.clock(), interval)
        self._throttle_slots[key] = slot.start_at
        return slot.countdown or None


@dataclass
class ExecutionResult:
    """A finished in-process run: its record, the report and how long it took on the clock."""

    record: FlowRunRecord
    report: dict[str, Any]
    #: simulated seconds from the first step to the last event
    elapsed: float
    #: node instances in the whole tree by ``"<kind> <status>"`` (for the summary)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.record.status == "succeeded"


class InProcessExecutor(Simulator):
    """Runs a flow and all its sub-flows to the end in this process (see the module docstring)."""

    def __init__(
        self,
        config: SystemConfig,
        *,
        pool: StoragePool | None = None,
        progress: Progress | None = None,
        max_events: int = 200_000,
    ) -> None:
        self.pool = pool if pool is not None else StoragePool.for_config(config)
        self.now = 0.0
        self.progress = progress
        self.max_events = max_events
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        #: task id -> (exception text, traceback) of its final failure
        self.errors: dict[str, tuple[str, str]] = {}
        ports = ExecutorPorts(config, self.pool, lambda: self.now)
        self.executor_ports = ports
        super().__init__(config, ports=ports, max_steps=max_events)

    # -- the clock -------------------------------------------------------------------------------

    def _at(self, countdown: float | None, action: Callable[[], None]) -> None:
        delay = max(float(countdown or 0), 0.0)
        heapq.heappush(self._events, (self.now + delay, next(self._seq), action))

    def _say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(self.now, message)

    # -- running ---------------------------------------------------------------------------------

    def _drain(self, flow_name: str) -> None:
        """Run until no event is left (nowait nodes included), in due-time order."""
        handled = 0
        while self._events:
            handled += 1
            if handled > self.max_events:
                raise ExecutionError(f"flow {flow_name!r} did not finish within {self.max_events} events")
            due, _, action = heapq.heappop(self._events)
            self.now = max(self.now, due)
            action()

    def execute(
        self,
        flow_name: str,
        node_args: Any = None,
        *,
        selective: SelectivePlan | Mapping[str, Any] | None = None,
    ) -> ExecutionResult:
        """:meth:`run` plus the report and the numbers of the summary."""
        record = self.run(flow_name, node_args, selective=selective)
        report = self.report(record)
        return ExecutionResult(record=record, report=report, elapsed=self.now, counts=_count_nodes(report))

    def _schedule(self, run: FlowRunRecord, countdown: float | None) -> None:
        self._at(countdown, lambda: self._step(run))

    def _step(self, run: FlowRunRecord) -> None:
        if run.status != "running":
            return
        first = not run.steps
        known = len(run.nodes)
        if first:
            self._say(f"start  flow {run.flow} {run.id}")
        try:
            super()._step(run)
        except Exception as exc:
            raise ExecutionError(f"dispatcher step of flow {run.flow!r} ({run.id}) raised: {exc!r}") from exc
        result = run.steps[-1]
        for event in result.traces:
            self.pool.tracer.trace(Trace.str2event(event.event), dict(event.details))
        for node in run.nodes[known:]:
            if node.reused:
                node.result = json_or_none(self.ports.task_result(node.name, node.id))
                self._say(f"reuse  task {node.name} {node.id} ({run.flow})")
            elif node.kind == "flow":
                when = f" in {node.countdown:g}s" if node.countdown else ""
                self._say(f"sched  flow {node.name} {node.id}{when} ({run.flow}){_marks(node)}")
        if run.status != "running":
            self._say(f"{'done ' if run.status == 'succeeded' else 'FAIL '}  flow {run.flow} {run.id} {run.status}")
        elif run.state is None:
            self._say(f"retry  flow {run.flow} {run.id} (attempt {run.retried_count + 1} of the flow)")

    # -- tasks -----------------------------------------------------------------------------------

    def _execute(self, run: FlowRunRecord, start: StartTask) -> NodeRecord:
        record = NodeRecord.started(start)
        self.executor_ports.task_flows[start.id] = run.flow
        when = f" in {start.countdown:g}s" if start.countdown else ""
        self._say(f"sched  task {start.name} {start.id}{when} ({run.flow}){_marks(record)}")
        self._at(start.countdown, lambda: self._attempt(run, record, 0))
        return record

    def _attempt(self, run: FlowRunRecord, record: NodeRecord, retried_count: int) -> None:
        record.attempts += 1
        self._say(f"start  task {record.name} {record.id} attempt {record.attempts}")
        outcome = run_attempt(
            self.config,
            self.pool,
            flow_name=run.flow,
            task_name=record.name,
            task_id=record.id,
            dispatcher_id=run.id,
            parent=thaw(record.parent) if record.parent is not None else None,
            node_args=thaw(record.node_args),
            retried_count=retried_count,
            exception_lookup=self._exception_lookup,
        )
        if isinstance(outcome, Succeeded):
            record.status = "succeeded"
            record.result = outcome.result
            self.executor_ports.succeed(record.id, outcome.result)
            self._say(f"done   task {record.name} {record.id} succeeded")
        elif isinstance(outcome, Retry):
            counted = retried_count + (1 if outcome.counted else 0)
            self._say(f"retry  task {record.name} {record.id} in {outcome.countdown:g}s: {outcome.exception}")
            self._at(outcome.countdown, lambda: self._attempt(run, record, counted))
        else:
            assert isinstance(outcome, Failed)
            record.status = "failed"
            self.errors[record.id] = (outcome.exception, outcome.traceback)
            self.executor_ports.fail(record.id)
            self._say(f"FAIL   task {record.name} {record.id} failed: {outcome.exception}")

    def _exception_lookup(self, flow_name: str, task_name: str, task_id: str) -> BaseException | None:
        """A failure a storage does not hold (no storage, read-only): rebuilt from memory."""
        error = self.errors.get(task_id)
        if error is None:
            return None
        type_name, _, message = error[0].partition(": ")
        return StoredTaskError(type_name, message, error[1])

    # -- the report ------------------------------------------------------------------------------

    def report(self, record: FlowRunRecord) -> dict[str, Any]:
        """The run report (issue 3's shape), plain JSON, plus ``fallback``/``nowait`` marks and
        the ``exception`` of failed tasks, as the runtime's report has them."""
        return self._report(record)

    def _report(self, record: FlowRunRecord) -> dict[str, Any]:
        base = record.report()
        report: dict[str, Any] = {
            "flow": base["flow"],
            "id": base["id"],
            "status": base["status"],
            "node_args": thaw(record.original_node_args),
            "nodes": [],
        }
        for node, entry in zip(record.nodes, base["nodes"], strict=True):
            entry = {key: thaw(value) for key, value in entry.items() if key != "run"}
            if node.fallback:
                entry["fallback"] = True
            if node.nowait:
                entry["nowait"] = True
            if node.kind == "task":
                entry["result"] = json_or_none(node.result)
                if node.id in self.errors:
                    entry["exception"] = self.errors[node.id][0]
            elif node.run is not None:
                entry["run"] = self._report(node.run)
            report["nodes"].append(entry)
        return report


def _marks(node: NodeRecord) -> str:
    return "".join(f" [{mark}]" for mark in ("fallback", "nowait") if getattr(node, mark))


def _count_nodes(report: Mapping[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in report["nodes"]:
        key = f"{node['kind']} {node['status']}"
        counts[key] = counts.get(key, 0) + 1
        if "run" in node:
            for key, value in _count_nodes(node["run"]).items():
                counts[key] = counts.get(key, 0) + value
    return counts


def execute_flow(
    config: SystemConfig,
    flow_name: str,
    node_args: Any = None,
    *,
    selective_task_names: Sequence[str] | None = None,
    follow_subflows: bool = False,
    run_subsequent: bool = False,
    pool: StoragePool | None = None,
    progress: Progress | None = None,
) -> ExecutionResult:
    """Run ``flow_name`` in this process (a selective run when ``selective_task_names`` is given).

    Raises :class:`~selinon_django.errors.UnknownFlowError`,
    :class:`~selinon_django.errors.SelectiveNoPathError` before anything runs, and
    :class:`ExecutionError` when a dispatcher step breaks.
    """
    if flow_name not in config.flows:
        raise UnknownFlowError(flow_name)
    plan = None
    if selective_task_names:
        plan = compute_selective(config, flow_name, selective_task_names, follow_subflows, run_subsequent)
    executor = InProcessExecutor(config, pool=pool, progress=progress)
    return executor.execute(flow_name, node_args, selective=plan)
