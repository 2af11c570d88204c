"""The step contract: state shape, no mutation, atomicity, first step, traces."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from selinon_django.engine import FinishFlow, FlowState, NodeRef, Reschedule, StartTask, Trace, step
from selinon_django.engine.testing import FakePorts, Simulator
from selinon_django.errors import UnknownFlowError

from .builders import system
from .scenario import Driver

CHAIN = {"f": {"edges": [{"from": None, "to": ["A", "B"]}, {"from": "A", "to": "C"}, {"from": ["A", "B"], "to": "D"}]}}


def test_state_has_exactly_selinons_five_keys_and_shapes() -> None:
    driver = Driver(system(CHAIN), "f")
    first = driver.step()
    a, b = driver.id("A"), driver.id("B")
    assert first.state.to_dict() == {
        "active_nodes": [{"name": "A", "id": a}, {"name": "B", "id": b}],
        "finished_nodes": {},
        "failed_nodes": {},
        "waiting_edges": [1, 2],
        "triggered_edges": [0],
    }
    driver.ports.succeed(a)
    second = driver.step()
    assert second.state.to_dict() == {
        "active_nodes": [{"name": "B", "id": b}, {"name": "C", "id": driver.id("C")}],
        "finished_nodes": {"A": [a]},
        "failed_nodes": {},
        "waiting_edges": [1, 2],
        "triggered_edges": [0, 1],
    }


def test_state_round_trips_through_its_dict() -> None:
    state = FlowState.build(
        active_nodes=[NodeRef("A", "1")],
        finished_nodes={"B": ["2", "3"]},
        failed_nodes={"C": ["4"]},
        waiting_edges=[3, 1],
        triggered_edges=[0],
    )
    assert FlowState.from_dict(state.to_dict()) == state
    assert FlowState.from_dict(None).is_empty and FlowState.from_dict({}).is_empty
    assert not state.is_empty


def test_step_never_mutates_the_state_it_is_given() -> None:
    config = system(CHAIN)
    driver = Driver(config, "f")
    driver.step()
    driver.ports.succeed(driver.id("A"))
    as_dict = driver.state.to_dict() if driver.state else {}
    before = copy.deepcopy(as_dict)
    step(config, "f", as_dict, node_args=None, parent=None, ports=driver.ports)
    assert as_dict == before
    frozen = driver.state
    step(config, "f", frozen, node_args=None, parent=None, ports=driver.ports)
    assert frozen == driver.state and frozen is not None and frozen.to_dict() == before


def test_a_step_that_breaks_half_way_returns_nothing_and_can_be_retried() -> None:
    broken = {"on": True}

    def flaky(message: Any) -> bool:
        if broken["on"]:
            raise RuntimeError("storage down")
        return True

    config = system(
        {
            "f": {
                "edges": [
                    {"from": None, "to": "A"},
                    {"from": "A", "to": "B"},
                    {"from": "A", "to": "C", "condition": {"name": "flaky", "node": "A"}},
                ]
            }
        }
    )
    driver = Driver(config, "f", ports=FakePorts(predicates={"flaky": flaky}))
    driver.step()
    driver.ports.succeed(driver.id("A"))
    state_before = driver.state
    with pytest.raises(RuntimeError):
        driver.step()  # B would have been started before the failing condition
    assert driver.state is state_before
    broken["on"] = False
    result = driver.step()
    assert [s.name for s in result.starts] == ["B", "C"]


def test_first_step_gives_starting_tasks_the_flow_parent() -> None:
    config = system({"f": {"edges": [{"from": None, "to": "A"}]}})
    (a,) = Driver(config, "f", parent={"X": "x-1"}).step().starts
    assert isinstance(a, StartTask) and a.parent == {"X": "x-1"}
    (a,) = Driver(config, "f").step().starts
    assert isinstance(a, StartTask) and a.parent == {}


def test_starting_edge_conditions_see_node_args() -> None:
    config = system(
        {
            "f": {
                "edges": [
                    {"from": None, "to": "A", "condition": {"name": "argsFieldExist", "args": {"key": "a"}}},
                    {"from": None, "to": "B", "condition": {"name": "argsFieldExist", "args": {"key": "b"}}},
                ]
            }
        }
    )
    result = Driver(config, "f", node_args={"a": 1}).step()
    assert [s.name for s in result.starts] == ["A"]
    assert result.state.triggered_edges == (0,)


def test_flow_whose_starting_conditions_are_all_false_finishes_at_once() -> None:
    config = system({"f": {"edges": [{"from": None, "to": "A", "condition": {"name": "alwaysFalse"}}]}})
    result = Driver(config, "f").step()
    assert result.starts == ()
    assert result.outcome == FinishFlow({"finished_nodes": {}, "failed_nodes": {}, "active_nodes": []})


def test_successful_flow_result_shape() -> None:
    run = Simulator(system(CHAIN)).run("f")
    outcome = run.outcome
    assert isinstance(outcome, FinishFlow)
    assert outcome.result == {
        "finished_nodes": {name: [n.id for n in run.named(name)] for name in ["A", "B", "C", "D"]},
        "failed_nodes": {},
        "active_nodes": [],
    }


def test_unknown_flow() -> None:
    with pytest.raises(UnknownFlowError):
        step(system(CHAIN), "nope", None, node_args=None, parent=None, ports=FakePorts())


def test_reschedule_while_nodes_are_active() -> None:
    result = Driver(system(CHAIN), "f").step()
    assert isinstance(result.outcome, Reschedule) and not result.done
    assert result.actions[-1] == result.outcome and result.actions[:-1] == result.starts


# -- trace events -----------------------------------------------------------------------------


def events(run: Any, name: str) -> list[dict[str, Any]]:
    return [dict(t.details) for t in run.traces if t.event == name]


def test_trace_events_carry_the_documented_details() -> None:
    config = system(
        {
            "outer": {"edges": [{"from": None, "to": "A"}, {"from": "A", "to": "sub"}]},
            "sub": {"edges": [{"from": None, "to": "S"}]},
        }
    )
    run = Simulator(config).run("outer", {"k": 1})
    (start,) = events(run, Trace.FLOW_START)
    assert {"dispatcher_id", "selective", "queue", "node_args", "flow_name"} <= set(start)
    assert start["flow_name"] == "outer" and start["dispatcher_id"] == run.id and start["node_args"] == {"k": 1}
    wakeups = events(run, Trace.DISPATCHER_WAKEUP)
    assert len(wakeups) == len(run.steps)
    assert {"dispatcher_id", "state", "selective", "retry", "queue", "node_args", "flow_name"} <= set(wakeups[0])
    (schedule,) = events(run, Trace.TASK_SCHEDULE)
    documented = {
        "countdown",
        "condition_str",
        "task_name",
        "queue",
        "node_args",
        "dispatcher_id",
        "parent",
        "task_id",
        "selective",
        "foreach_str",
        "flow_name",
        "selective_edge",
    }
    assert documented <= set(schedule)
    assert schedule["task_name"] == "A" and schedule["queue"] == "celery" and schedule["selective"] is False
    (subflow,) = events(run, Trace.SUBFLOW_SCHEDULE)
    assert subflow["child_flow_name"] == "sub" and subflow["child_dispatcher_id"] == run.named("sub")[0].id
    successful = events(run, Trace.NODE_SUCCESSFUL)
    assert [(e["node_name"], e["node_id"]) for e in successful] == [(n.name, n.id) for n in run.nodes]
    (end,) = events(run, Trace.FLOW_END)
    assert end["finished_nodes"] == run.outcome.result["finished_nodes"]
    assert events(run, Trace.DISPATCHER_RETRY)


def test_failure_traces() -> None:
    config = system({"f": {"edges": [{"from": None, "to": "A"}], "max_retry": 1}})
    from .scenario import tasks

    run = Simulator(config, tasks(fail={"A"})).run("f")
    failures = events(run, Trace.NODE_FAILURE)
    assert [e["node_name"] for e in failures] == ["A", "A"]
    flow_failures = events(run, Trace.FLOW_FAILURE)
    assert [e["will_retry"] for e in flow_failures] == [True, False]
    (retry,) = events(run, Trace.FLOW_RETRY)
    assert retry["retried_count"] == 1
