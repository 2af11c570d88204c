"""The flow engine: Selinon's dispatcher as a pure state machine (no Django, no Celery).

The runtime (Celery) and the in-process executor both drive a flow run the same way: call
:func:`step` whenever something may have changed, carry out what it returns, keep the new state.

API
---

``step(config, flow_name, state, *, node_args, parent, ports, selective=None, retried_count=0,
previous_retry=None, dispatcher_id=None) -> StepResult``
    One dispatcher step (:mod:`.dispatcher`). ``state`` is None/empty on the first step, else the
    previous :class:`FlowState` (or its dict). ``selective`` is a :class:`SelectivePlan` or its
    dict. Never mutates its inputs; may raise (a broken predicate, an unknown flow) and then has
    done nothing, so the caller retries with the old state.

``StepResult``
    ``state`` (new :class:`FlowState`), ``node_args`` (the flow's node_args from now on: replaced
    by ``node_args_from_first``), ``starts`` (``StartTask``/``StartFlow``/``ReuseTask`` in order),
    ``outcome`` (exactly one of ``Reschedule(countdown)``, ``FinishFlow(result)``,
    ``FailFlow(state, reason, failed_nodes)``, ``RetryFlow(countdown, retried_count, state, reason)``),
    ``traces`` (``TraceEvent(event, details)`` with :class:`Trace` names), ``new_started_nodes``,
    ``new_fallback_nodes``, ``newly_finished``, ``newly_failed``, ``retry``; ``actions`` = starts
    + outcome; ``done`` is True unless the outcome is ``Reschedule``.

``Ports`` (:mod:`.ports`), implemented by the caller
    ``node_status(kind, name, id) -> NodeStatus`` (PENDING/SUCCEEDED/FAILED),
    ``task_result(task_name, task_id)`` (lazily, only for conditions that read a result, and for
    ``node_args_from_first``), ``subflow_finished_nodes(flow_name, run_id) -> {name: [ids]}`` (one
    level; the engine recurses), ``foreach_items(function, node_args, parent)`` (caller imports and
    calls ``fn(storage_pool, node_args)``), ``new_id(kind, name)``,
    ``throttle_countdown(kind, name, interval)`` (called once per start of a throttled node; the
    caller reserves the slot), ``load_predicate(module, name)``, ``load_strategy(module, name)``,
    ``selective_run(function, *, flow_name, node_name, node_args, task_names, parent) -> id | None``.

What the caller does with the result
    Persist ``state``/``node_args`` and the starts atomically, then publish: ``StartTask`` ->
    run the task with ``(task_name, flow_name, parent, node_args, dispatcher_id)`` after
    ``countdown``; ``StartFlow`` -> a new flow run with ``node_args``/``parent``/``selective`` as
    given (already filtered by the ``propagate_*`` flags); ``ReuseTask`` -> record the reused
    instance (already treated as finished). ``nowait`` starts are not tracked by the flow.
    ``Reschedule`` -> step again after a node finishes or after ``countdown`` at the latest;
    ``FinishFlow`` -> store ``result`` (Selinon's flow result) and report SUCCEEDED to the parent;
    ``FailFlow`` -> FAILED (``state`` is the real final state); ``RetryFlow`` -> start the run
    again from an empty state with its original node_args, parent and plan, ``retried_count``
    as given, after ``countdown``. Pass the strategy's last answer back as ``previous_retry``.

Other modules: :mod:`.state` (``FlowState``, ``NodeRef``), :mod:`.actions`, :mod:`.conditions`
(condition evaluation, including the ``flow/Task`` paths that read results inside finished
sub-flows), :mod:`.failures` (greedy fallback matching), :mod:`.parents` (propagated parents),
:mod:`.selective_plan` (the plan's JSON contract), :mod:`.selective` (computing plans),
:mod:`.migrations`, :mod:`.migration_plan` (edge matching, revision links, the chain walk),
:mod:`.throttling`, :mod:`.simulation` (a whole flow driven in memory: the in-process executor's
base), :mod:`.testing` (``FakePorts`` for tests, never imported by production code).
"""
from __future__ import annotations

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
from selinon_django.engine.conditions import ConditionError
from selinon_django.engine.dispatcher import StepResult, step
from selinon_django.engine.ports import NodeStatus, Ports
from selinon_django.engine.selective_plan import FlowPlan, SelectivePlan
from selinon_django.engine.state import FlowState, NodeRef

__all__ = [
    "ConditionError",
    "FailFlow",
    "FinishFlow",
    "FlowPlan",
    "FlowState",
    "NodeRef",
    "NodeStatus",
    "Outcome",
    "Ports",
    "Reschedule",
    "RetryFlow",
    "ReuseTask",
    "SelectivePlan",
    "Start",
    "StartFlow",
    "StartTask",
    "StepResult",
    "Trace",
    "TraceEvent",
    "step",
]
