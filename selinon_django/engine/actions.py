"""What a dispatcher step asks its caller to do, and what it reports, as plain frozen data.

A step never publishes anything itself: it returns *starts* (:class:`StartTask`,
:class:`StartFlow`, :class:`ReuseTask`), exactly one *outcome* (:class:`Reschedule`,
:class:`FinishFlow`, :class:`FailFlow`, :class:`RetryFlow`) and the trace events of the step.
The caller records them in one transaction and publishes afterwards, so a step that breaks
half-way has started nothing (REFERENCE-BEHAVIOUR "Do better" 6).

Everything here is JSON-friendly (dicts, lists, strings, numbers, None), so actions can go into
an outbox table or a message unchanged.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal


class Trace:
    """Event names of Selinon's ``selinon.trace`` table that the dispatcher emits.

    The runtime emits the worker-side ones (TASK_START, TASK_END, STORAGE_*, ...) itself.
    """

    DISPATCHER_WAKEUP = "DISPATCHER_WAKEUP"
    FLOW_START = "FLOW_START"
    TASK_SCHEDULE = "TASK_SCHEDULE"
    SUBFLOW_SCHEDULE = "SUBFLOW_SCHEDULE"
    NODE_SUCCESSFUL = "NODE_SUCCESSFUL"
    NODE_FAILURE = "NODE_FAILURE"
    EDGE_COND_FALSE = "EDGE_COND_FALSE"
    FOREACH_RESULT = "FOREACH_RESULT"
    FALLBACK_START = "FALLBACK_START"
    FALLBACK_COND_TRUE = "FALLBACK_COND_TRUE"
    FALLBACK_COND_FALSE = "FALLBACK_COND_FALSE"
    EAGER_FAILURE = "EAGER_FAILURE"
    FLOW_FAILURE = "FLOW_FAILURE"
    FLOW_RETRY = "FLOW_RETRY"
    FLOW_END = "FLOW_END"
    DISPATCHER_RETRY = "DISPATCHER_RETRY"
    SELECTIVE_OMIT_EDGE = "SELECTIVE_OMIT_EDGE"
    SELECTIVE_OMIT_NODE = "SELECTIVE_OMIT_NODE"
    SELECTIVE_RUN_FUNC = "SELECTIVE_RUN_FUNC"
    SELECTIVE_TASK_REUSE = "SELECTIVE_TASK_REUSE"


@dataclass(frozen=True)
class TraceEvent:
    """One trace event: a :class:`Trace` name and its details (the documented keys)."""

    event: str
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class StartTask:
    """Publish a task.

    ``parent`` is exactly what the task receives (names of parent nodes -> ids, with sub-flow
    results nested when propagated; ``None`` for fallbacks). ``countdown`` comes from
    throttling (None: now). ``edge`` is the index of the edge that fired (None for starting
    nodes of a fallback). ``nowait`` tasks are not tracked by the flow.
    """

    name: str
    id: str
    parent: Mapping[str, Any] | None
    node_args: Any
    countdown: float | None = None
    edge: int | None = None
    nowait: bool = False
    fallback: bool = False
    #: started by a selective run (the edge is on the computed path)
    selective_edge: bool = False

    kind: Literal["task"] = "task"


@dataclass(frozen=True)
class StartFlow:
    """Start a sub-flow run (a new dispatcher) with id ``id``.

    ``node_args``/``parent`` are already filtered by ``propagate_node_args``/``propagate_parent``
    (None when not propagated). ``selective`` is the JSON dict of the sub-flow's
    :class:`~selinon_django.engine.selective_plan.SelectivePlan`, or None for a full run.
    """

    name: str
    id: str
    parent: Mapping[str, Any] | None
    node_args: Any
    countdown: float | None = None
    edge: int | None = None
    nowait: bool = False
    fallback: bool = False
    selective: Mapping[str, Any] | None = None
    selective_edge: bool = False

    kind: Literal["flow"] = "flow"


@dataclass(frozen=True)
class ReuseTask:
    """A selective run reuses an earlier result: record ``id`` as a finished instance of ``name``.

    Nothing is published; the engine already treated the instance as finished in this step.
    """

    name: str
    id: str
    parent: Mapping[str, Any] | None
    node_args: Any
    edge: int | None = None


Start = StartTask | StartFlow | ReuseTask


@dataclass(frozen=True)
class Reschedule:
    """Nodes are still active: look again in ``countdown`` seconds (the sampling strategy's answer).

    The runtime wakes the flow as soon as a node finishes; this is only the safety net.
    """

    countdown: float


@dataclass(frozen=True)
class FinishFlow:
    """The flow succeeded. ``result`` is Selinon's stored flow result."""

    result: Mapping[str, Any]


@dataclass(frozen=True)
class FailFlow:
    """The flow failed for good. ``state`` is the real final state (Do better 1).

    ``failed_nodes`` are the failures that caused it (``{name: [ids]}``); ``reason`` is
    ``"failed_nodes"`` (no fallback could recover) or ``"eager_failure"``.
    """

    state: Mapping[str, Any]
    reason: str
    failed_nodes: Mapping[str, Any]


@dataclass(frozen=True)
class RetryFlow:
    """The flow failed but ``max_retry`` allows another attempt: start it again from scratch.

    The caller starts the flow anew (empty state, the node_args and parent the run was first
    given, the same selective plan) after ``countdown`` seconds with ``retried_count``.
    ``state`` is the state of the failed attempt, for the record.
    """

    countdown: float
    retried_count: int
    state: Mapping[str, Any]
    reason: str


Outcome = Reschedule | FinishFlow | FailFlow | RetryFlow
