"""One dispatcher step: the heart of a flow run, as a pure function.

:func:`step` takes a flow's configuration, its current :class:`FlowState` and the answers of
:class:`Ports` (what happened to active nodes, results for conditions), and returns a
:class:`StepResult`: the new state, the nodes to start, one outcome and the trace events.
It never mutates its input and has no side effects except through the ports, so the caller can
run it inside a transaction and publish the starts only after commit.

The order of work within a step (REFERENCE-BEHAVIOUR "One dispatcher step"):

1. first step (no state yet): fire the starting edges against ``node_args``;
2. later steps: ask the status of every active node; newly failed ones go to
   ``failed_nodes`` (an ``eager_failures`` node fails the flow at once, before anything new is
   started); newly finished ones are processed one at a time, in ``active_nodes`` order: every
   waiting edge leaving the node is evaluated for each combination of this instance with the
   already finished instances of the edge's other sources, and only then is the instance
   appended to ``finished_nodes`` (so each combination is evaluated exactly once, when its last
   member finishes; that is what makes the "cyclic diamond" run Task4 for every combination);
3. when nothing is active any more and some nodes failed: greedy fallback matching;
4. nothing active and nothing failed: the flow succeeded; failures left: the flow failed
   (retried from scratch while ``max_retry`` allows); otherwise the sampling strategy says when
   to look again.
"""
from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from selinon_django.config.model import Edge, Failure, Flow, NodeKind, SystemConfig, selects, thaw
from selinon_django.engine.actions import (
    FailFlow,
    FinishFlow,
    Outcome,
    Reschedule,
    RetryFlow,
    ReuseTask,
    Start,
    StartFlow,
    StartTask,
    Trace,
    TraceEvent,
)
from selinon_django.engine.conditions import ConditionContext, condition_str, evaluate
from selinon_django.engine.failures import applications, candidates, consume
from selinon_django.engine.parents import edge_parent
from selinon_django.engine.ports import NodeStatus, Ports
from selinon_django.engine.selective_plan import FlowPlan, SelectivePlan
from selinon_django.engine.state import FlowState, NodeRef
from selinon_django.errors import UnknownFlowError

__all__ = ["StepResult", "step"]


@dataclass(frozen=True)
class StepResult:
    """Everything one step decided.

    ``starts`` must be published (``ReuseTask`` only recorded) in order; ``outcome`` says what
    happens to the flow. ``node_args`` is the flow's node_args from now on: it differs from the
    input only when ``node_args_from_first`` replaced it by the first task's result; the caller
    stores it and passes it to later steps.
    """

    state: FlowState
    node_args: Any
    starts: tuple[Start, ...]
    outcome: Outcome
    traces: tuple[TraceEvent, ...]
    new_started_nodes: tuple[NodeRef, ...] = ()
    new_fallback_nodes: tuple[NodeRef, ...] = ()
    #: nodes that finished / failed as observed by this step (reused selective tasks included)
    newly_finished: tuple[NodeRef, ...] = ()
    newly_failed: tuple[NodeRef, ...] = ()
    #: the sampling countdown the strategy answered (None when the flow ended)
    retry: float | None = None

    @property
    def actions(self) -> tuple[Start | Outcome, ...]:
        """Starts followed by the outcome, in the order they must take effect."""
        return (*self.starts, self.outcome)

    @property
    def done(self) -> bool:
        """Whether the flow run is over for this dispatcher (finished, failed or to be retried)."""
        return not isinstance(self.outcome, Reschedule)


@dataclass
class _Cause:
    """Why a node is started: the edge (with its combination) or a fallback; for traces and plans."""

    edge: Edge | None = None
    fallback: bool = False
    #: the edge is on a selective path (its destinations were filtered by the plan)
    selective_path: bool = False
    #: a foreach item to use as the sub-flow's node_args (``propagate_result``)
    item: Any = None
    has_item: bool = False


@dataclass
class _Step:
    """The mutable working copy of one step (never visible outside :func:`step`)."""

    config: SystemConfig
    flow: Flow
    ports: Ports
    node_args: Any
    parent: Mapping[str, Any] | None
    plan: SelectivePlan | None
    flow_plan: FlowPlan | None
    retried_count: int
    previous_retry: float | None
    dispatcher_id: str | None
    input_state: FlowState
    active: list[NodeRef] = field(default_factory=list)
    finished: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, list[str]] = field(default_factory=dict)
    waiting: list[int] = field(default_factory=list)
    triggered: list[int] = field(default_factory=list)
    starts: list[Start] = field(default_factory=list)
    traces: list[TraceEvent] = field(default_factory=list)
    new_started: list[NodeRef] = field(default_factory=list)
    new_fallback: list[NodeRef] = field(default_factory=list)
    newly_finished: list[NodeRef] = field(default_factory=list)
    newly_failed: list[NodeRef] = field(default_factory=list)
    worklist: deque[NodeRef] = field(default_factory=deque)

    # -- small helpers -------------------------------------------------------------------------

    @property
    def flow_name(self) -> str:
        return self.flow.name

    def kind(self, name: str) -> NodeKind:
        return "flow" if self.config.is_flow(name) else "task"

    def trace(self, event: str, **details: Any) -> None:
        base = {"flow_name": self.flow_name, "dispatcher_id": self.dispatcher_id}
        self.traces.append(TraceEvent(event, {**base, **details}))

    def selective_detail(self) -> dict[str, Any] | bool:
        return self.plan.to_dict() if self.plan is not None else False

    def snapshot(self) -> FlowState:
        return FlowState.build(
            active_nodes=self.active,
            finished_nodes=self.finished,
            failed_nodes=self.failed,
            waiting_edges=self.waiting,
            triggered_edges=self.triggered,
        )

    def add_waiting_edges(self, node_name: str) -> None:
        for edge in self.flow.edges:
            if node_name in edge.from_ and edge.index not in self.waiting:
                self.waiting.append(edge.index)

    # -- the step ------------------------------------------------------------------------------

    def run(self, first: bool) -> Outcome:
        self.trace(
            Trace.DISPATCHER_WAKEUP,
            state=None if first else self.input_state.to_dict(),
            selective=self.selective_detail(),
            retry=self.previous_retry,
            queue=self.config.dispatcher_queue(self.flow_name),
            node_args=self.node_args,
        )
        if first:
            self.trace(
                Trace.FLOW_START,
                selective=self.selective_detail(),
                queue=self.config.dispatcher_queue(self.flow_name),
                node_args=self.node_args,
            )
            self.fire_starting_edges()
        else:
            finished_now, eager = self.poll()
            if eager:
                # Eager failure: stop scheduling at once. Nodes that finished are recorded (the
                # state stays true, Do better 1) but their edges are not followed.
                for node in finished_now:
                    self.newly_finished.append(node)
                    self.finished.setdefault(node.name, []).append(node.id)
                eager_nodes: dict[str, list[str]] = {}
                for node in eager:
                    eager_nodes.setdefault(node.name, []).append(node.id)
                self.trace(
                    Trace.EAGER_FAILURE,
                    failed_nodes=eager_nodes,
                    state=self.snapshot().to_dict(),
                )
                return self.flow_failed("eager_failure")
            self.worklist.extend(finished_now)
        self.drain()

        while not self.active and self.failed:
            if not self.run_fallbacks():
                return self.flow_failed("failed_nodes")
            self.drain()

        if not self.active:
            return self.flow_finished()
        return self.reschedule()

    def drain(self) -> None:
        while self.worklist:
            self.process_finished(self.worklist.popleft())

    def poll(self) -> tuple[list[NodeRef], list[NodeRef]]:
        """Split active nodes by status; returns (newly finished, newly failed eager nodes)."""
        still_active: list[NodeRef] = []
        finished_now: list[NodeRef] = []
        eager: list[NodeRef] = []
        for node in self.active:
            status = self.ports.node_status(self.kind(node.name), node.name, node.id)
            if status is NodeStatus.SUCCEEDED:
                self.trace(
                    Trace.NODE_SUCCESSFUL, node_name=node.name, node_id=node.id, selective=self.selective_detail()
                )
                finished_now.append(node)
            elif status is NodeStatus.FAILED:
                self.trace(Trace.NODE_FAILURE, node_name=node.name, node_id=node.id, selective=self.selective_detail())
                self.failed.setdefault(node.name, []).append(node.id)
                self.newly_failed.append(node)
                if selects(self.flow.eager_failures, node.name):
                    eager.append(node)
            else:
                still_active.append(node)
        self.active = still_active
        return finished_now, eager

    # -- edges ---------------------------------------------------------------------------------

    def fire_starting_edges(self) -> None:
        flow_parent = dict(self.parent) if self.parent else {}
        for edge in self.flow.starting_edges:
            if not self.on_selective_path(edge):
                continue
            context = ConditionContext(self.config, self.ports, self.node_args)
            if not evaluate(edge.condition, context):
                self.trace_condition_false(edge, {})
                continue
            self.fire(edge, sources={}, task_parent=flow_parent, flow_parent=self.parent)

    def on_selective_path(self, edge: Edge) -> bool:
        if self.flow_plan is None or self.flow_plan.fires(edge.index):
            return True
        self.trace(
            Trace.SELECTIVE_OMIT_EDGE,
            edge=edge.index,
            nodes_from=list(edge.from_),
            nodes_to=list(edge.to),
            selective=self.selective_detail(),
        )
        return False

    def process_finished(self, node: NodeRef) -> None:
        self.newly_finished.append(node)
        if self.flow.node_args_from_first and not self.finished and self.is_starting_node(node.name):
            self.node_args = self.ports.task_result(node.name, node.id)
        for edge in self.flow.edges:
            if node.name not in edge.from_ or edge.index not in self.waiting:
                continue
            if not self.on_selective_path(edge):
                continue
            slots = [[node.id] if source == node.name else list(self.finished.get(source, ())) for source in edge.from_]
            for combination in itertools.product(*slots):
                sources = dict(zip(edge.from_, combination, strict=True))
                context = ConditionContext(self.config, self.ports, self.node_args, sources)
                if not evaluate(edge.condition, context):
                    self.trace_condition_false(edge, sources)
                    continue
                parent = edge_parent(self.config, self.flow, self.ports, sources)
                self.fire(edge, sources=sources, task_parent=parent, flow_parent=parent)
        self.finished.setdefault(node.name, []).append(node.id)

    def is_starting_node(self, name: str) -> bool:
        return any(name in edge.to for edge in self.flow.starting_edges)

    def trace_condition_false(self, edge: Edge, sources: Mapping[str, str]) -> None:
        self.trace(
            Trace.EDGE_COND_FALSE,
            edge=edge.index,
            nodes_from=list(edge.from_),
            nodes_to=list(edge.to),
            condition_str=condition_str(edge.condition),
            parent=dict(sources),
            node_args=self.node_args,
        )

    def destinations(self, edge: Edge) -> tuple[Sequence[str], bool]:
        """The destinations to start and whether they are on a selective path (prerequisites)."""
        if self.flow_plan is None or edge.index in self.flow_plan.subsequent_edges:
            return edge.to, False
        listed = self.flow_plan.edges.get(edge.index, ())
        remaining = list(listed)
        for name in edge.to:
            if name in remaining:
                remaining.remove(name)
            else:
                self.trace(
                    Trace.SELECTIVE_OMIT_NODE,
                    node_name=name,
                    edge=edge.index,
                    selective=self.selective_detail(),
                )
        return listed, True

    def fire(
        self,
        edge: Edge,
        *,
        sources: Mapping[str, str],
        task_parent: Mapping[str, Any],
        flow_parent: Mapping[str, Any] | None,
    ) -> None:
        if edge.index not in self.triggered:
            self.triggered.append(edge.index)
        names, selective_path = self.destinations(edge)
        if edge.foreach is None:
            cause = _Cause(edge=edge, selective_path=selective_path)
            for name in names:
                self.start(name, cause, task_parent=task_parent, flow_parent=flow_parent)
            return
        items = list(self.ports.foreach_items(edge.foreach.function, self.node_args, dict(sources)))
        self.trace(
            Trace.FOREACH_RESULT,
            edge=edge.index,
            nodes_from=list(edge.from_),
            nodes_to=list(edge.to),
            foreach_str=edge.foreach.function.dotted,
            parent=dict(sources),
            node_args=self.node_args,
            result=items,
        )
        for item in items:
            cause = _Cause(
                edge=edge,
                selective_path=selective_path,
                item=item,
                has_item=edge.foreach.propagate_result,
            )
            for name in names:
                self.start(name, cause, task_parent=task_parent, flow_parent=flow_parent)

    # -- starting nodes ------------------------------------------------------------------------

    def throttle(self, kind: NodeKind, name: str) -> float | None:
        interval = self.config.flows[name].throttling if kind == "flow" else self.config.tasks[name].throttling
        if not interval:
            return None
        return self.ports.throttle_countdown(kind, name, interval) or None

    def start(
        self,
        name: str,
        cause: _Cause,
        *,
        task_parent: Mapping[str, Any] | None,
        flow_parent: Mapping[str, Any] | None,
    ) -> None:
        nowait = name in self.flow.nowait
        edge_index = cause.edge.index if cause.edge is not None else None
        cond_str = condition_str(cause.edge.condition) if cause.edge is not None else None
        foreach_str = cause.edge.foreach.function.dotted if cause.edge is not None and cause.edge.foreach else None
        node_id: str
        if self.kind(name) == "task":
            parent = dict(task_parent) if task_parent is not None else None
            if self.reuse_selective(name, cause, parent):
                return
            node_id = self.ports.new_id("task", name)
            countdown = self.throttle("task", name)
            self.starts.append(
                StartTask(
                    name=name,
                    id=node_id,
                    parent=parent,
                    node_args=self.node_args,
                    countdown=countdown,
                    edge=edge_index,
                    nowait=nowait,
                    fallback=cause.fallback,
                    selective_edge=cause.selective_path,
                )
            )
            self.trace(
                Trace.TASK_SCHEDULE,
                task_name=name,
                task_id=node_id,
                parent=parent,
                node_args=self.node_args,
                queue=self.config.task_queue(name),
                countdown=countdown,
                condition_str=cond_str,
                foreach_str=foreach_str,
                selective=self.selective_detail(),
                selective_edge=cause.selective_path,
                fallback=cause.fallback,
                nowait=nowait,
            )
        else:
            if cause.has_item:
                child_args = cause.item
            elif selects(self.flow.propagate_node_args, name):
                child_args = self.node_args
            else:
                child_args = None
            child_parent = (
                dict(flow_parent) if flow_parent is not None and selects(self.flow.propagate_parent, name) else None
            )
            selective = self.child_plan(name, cause)
            node_id = self.ports.new_id("flow", name)
            countdown = self.throttle("flow", name)
            self.starts.append(
                StartFlow(
                    name=name,
                    id=node_id,
                    parent=child_parent,
                    node_args=child_args,
                    countdown=countdown,
                    edge=edge_index,
                    nowait=nowait,
                    fallback=cause.fallback,
                    selective=selective,
                    selective_edge=cause.selective_path or selective is not None,
                )
            )
            self.trace(
                Trace.SUBFLOW_SCHEDULE,
                child_flow_name=name,
                child_dispatcher_id=node_id,
                parent=child_parent,
                node_args=child_args,
                queue=self.config.dispatcher_queue(name),
                countdown=countdown,
                condition_str=cond_str,
                foreach_str=foreach_str,
                selective=selective if selective is not None else False,
                selective_edge=cause.selective_path or selective is not None,
                fallback=cause.fallback,
                nowait=nowait,
            )
        if nowait:
            return
        node = NodeRef(name, node_id)
        self.active.append(node)
        (self.new_fallback if cause.fallback else self.new_started).append(node)
        self.add_waiting_edges(name)

    def child_plan(self, name: str, cause: _Cause) -> dict[str, Any] | None:
        """The selective plan a sub-flow is started with (None: it runs in full)."""
        edge = cause.edge
        if edge is not None and edge.selective is not None:
            from selinon_django.engine.selective import plan_for_selective_edge

            return plan_for_selective_edge(self.config, edge).to_dict()
        if self.plan is not None and cause.selective_path and self.plan.for_flow(name) is not None:
            return self.plan.to_dict()
        return None

    def reuse_selective(self, name: str, cause: _Cause, parent: Mapping[str, Any] | None) -> bool:
        """Ask a prerequisite's ``selective_run_function``; True when an earlier result is reused."""
        if self.plan is None or not cause.selective_path or self.plan.is_target(name):
            return False
        function = self.config.tasks[name].selective_run_function
        if function is None:
            return False
        reused = self.ports.selective_run(
            function,
            flow_name=self.flow_name,
            node_name=name,
            node_args=self.node_args,
            task_names=self.plan.task_names,
            parent=parent or {},
        )
        self.trace(
            Trace.SELECTIVE_RUN_FUNC,
            node_name=name,
            parent=parent,
            node_args=self.node_args,
            selective=self.selective_detail(),
            result=reused,
        )
        if reused is None:
            return False
        edge_index = cause.edge.index if cause.edge is not None else None
        self.starts.append(ReuseTask(name=name, id=reused, parent=parent, node_args=self.node_args, edge=edge_index))
        self.trace(
            Trace.SELECTIVE_TASK_REUSE,
            task_name=name,
            task_id=reused,
            parent=parent,
            node_args=self.node_args,
            selective=self.selective_detail(),
        )
        self.add_waiting_edges(name)
        self.worklist.append(NodeRef(name, reused))
        return True

    # -- failures ------------------------------------------------------------------------------

    def run_fallbacks(self) -> bool:
        """Apply the greedy match, if any; False when no ``failures`` entry can recover."""
        context = ConditionContext(self.config, self.ports, self.node_args)
        for combination, entries in candidates(self.failed, self.flow.failures):
            chosen: list[Failure] = []
            for entry in entries:
                fallback = True if entry.fallback is True else list(entry.fallback)
                details = {
                    "nodes": list(combination),
                    "fallback": fallback,
                    "condition_str": condition_str(entry.condition),
                    "node_args": self.node_args,
                }
                if evaluate(entry.condition, context):
                    self.trace(Trace.FALLBACK_COND_TRUE, **details)
                    chosen.append(entry)
                else:
                    self.trace(Trace.FALLBACK_COND_FALSE, **details)
            if not chosen:
                continue
            for _ in range(applications(self.failed, combination)):
                consumed = consume(self.failed, combination)
                for entry in chosen:
                    fallback = True if entry.fallback is True else list(entry.fallback)
                    self.trace(Trace.FALLBACK_START, nodes=consumed, fallback=fallback, node_args=self.node_args)
                    if entry.fallback is True:
                        continue
                    for name in entry.fallback:
                        self.start(name, _Cause(fallback=True), task_parent=None, flow_parent=None)
            return True
        return False

    # -- outcomes ------------------------------------------------------------------------------

    def flow_failed(self, reason: str) -> Outcome:
        state = self.snapshot().to_dict()
        will_retry = self.retried_count < self.flow.max_retry
        self.trace(
            Trace.FLOW_FAILURE,
            state=state,
            reason=reason,
            will_retry=will_retry,
            retried_count=self.retried_count,
            max_retry=self.flow.max_retry,
        )
        if will_retry:
            self.trace(
                Trace.FLOW_RETRY,
                state=state,
                reason=reason,
                retried_count=self.retried_count + 1,
                max_retry=self.flow.max_retry,
                retry_countdown=self.flow.retry_countdown,
            )
            return RetryFlow(
                countdown=self.flow.retry_countdown,
                retried_count=self.retried_count + 1,
                state=state,
                reason=reason,
            )
        return FailFlow(state=state, reason=reason, failed_nodes=state["failed_nodes"])

    def flow_finished(self) -> Outcome:
        finished = {name: list(ids) for name, ids in self.finished.items()}
        self.trace(Trace.FLOW_END, finished_nodes=finished, queue=self.config.dispatcher_queue(self.flow_name))
        return FinishFlow(result={"finished_nodes": finished, "failed_nodes": {}, "active_nodes": []})

    def sampling_status(self) -> dict[str, Any]:
        return {
            "previous_retry": self.previous_retry,
            "active_nodes": [node.to_dict() for node in self.active],
            "failed_nodes": {name: list(ids) for name, ids in self.failed.items()},
            "new_started_nodes": [node.name for node in self.new_started],
            "new_fallback_nodes": [node.name for node in self.new_fallback],
            "finished_nodes": {name: list(ids) for name, ids in self.finished.items()},
        }

    def reschedule(self) -> Outcome:
        sampling = self.flow.sampling
        strategy = self.ports.load_strategy(sampling.module, sampling.name)
        countdown = strategy(self.sampling_status(), **thaw(sampling.args))
        if countdown is None:
            # The strategy ended the flow although nodes are active (Selinon: None ends the flow).
            return self.flow_failed("failed_nodes") if self.failed else self.flow_finished()
        state = self.snapshot().to_dict()
        self.trace(
            Trace.DISPATCHER_RETRY,
            state=state,
            state_dict=state,
            selective=self.selective_detail(),
            retry=countdown,
            queue=self.config.dispatcher_queue(self.flow_name),
            node_args=self.node_args,
            parent=self.parent,
        )
        return Reschedule(countdown=countdown)


def step(
    config: SystemConfig,
    flow_name: str,
    state: FlowState | Mapping[str, Any] | None,
    *,
    node_args: Any,
    parent: Mapping[str, Any] | None,
    ports: Ports,
    selective: SelectivePlan | Mapping[str, Any] | None = None,
    retried_count: int = 0,
    previous_retry: float | None = None,
    dispatcher_id: str | None = None,
) -> StepResult:
    """Run one dispatcher step of ``flow_name`` (see the module docstring for what it does).

    ``state`` is None (or empty) for the first step of a run, else the state the previous step
    returned (a :class:`FlowState` or its dict). ``parent`` is the mapping the flow was started
    with (None for a top-level flow). ``selective`` is the run's plan (or its dict) when the run
    is selective. ``previous_retry`` is what the sampling strategy answered last time.
    ``dispatcher_id`` (the run id) only goes into trace details.
    """
    try:
        flow = config.flows[flow_name]
    except KeyError:
        raise UnknownFlowError(flow_name) from None
    current = state if isinstance(state, FlowState) else FlowState.from_dict(state)
    plan = SelectivePlan.coerce(selective)
    work = _Step(
        config=config,
        flow=flow,
        ports=ports,
        node_args=node_args,
        parent=parent,
        plan=plan,
        flow_plan=plan.for_flow(flow_name) if plan is not None else None,
        retried_count=retried_count,
        previous_retry=previous_retry,
        dispatcher_id=dispatcher_id,
        input_state=current,
        active=list(current.active_nodes),
        finished={name: list(ids) for name, ids in current.finished_nodes.items()},
        failed={name: list(ids) for name, ids in current.failed_nodes.items()},
        waiting=list(current.waiting_edges),
        triggered=list(current.triggered_edges),
    )
    outcome = work.run(first=current.is_empty)
    return StepResult(
        state=work.snapshot(),
        node_args=work.node_args,
        starts=tuple(work.starts),
        outcome=outcome,
        traces=tuple(work.traces),
        new_started_nodes=tuple(work.new_started),
        new_fallback_nodes=tuple(work.new_fallback),
        newly_finished=tuple(work.newly_finished),
        newly_failed=tuple(work.newly_failed),
        retry=outcome.countdown if isinstance(outcome, Reschedule) else None,
    )
