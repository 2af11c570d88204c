"""Edge conditions: and/or/not, lazy result reads, evaluation once per combination, flow/Task paths."""

from __future__ import annotations

from typing import Any

import pytest

from selinon_django.engine import ConditionError, Trace
from selinon_django.engine.conditions import ConditionContext, condition_str, evaluate
from selinon_django.engine.testing import FakePorts, Simulator

from .builders import condition, system
from .scenario import Driver, tasks


def flow_with(cond: dict[str, Any], sources: Any = "A") -> Any:
    return system({"f": {"edges": [{"from": None, "to": ["A", "B"]}, {"from": sources, "to": "C", "condition": cond}]}})


def eq(node: str, key: str, value: Any) -> dict[str, Any]:
    return {"name": "fieldEqual", "node": node, "args": {"key": key, "value": value}}


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        (eq("A", "v", 1), True),
        (eq("A", "v", 2), False),
        ({"and": [eq("A", "v", 1), eq("B", "w", "x")]}, True),
        ({"and": [eq("A", "v", 1), eq("B", "w", "y")]}, False),
        ({"or": [eq("A", "v", 2), eq("B", "w", "x")]}, True),
        ({"or": [eq("A", "v", 2), eq("B", "w", "y")]}, False),
        ({"not": eq("A", "v", 2)}, True),
        ({"not": {"or": [eq("A", "v", 1), eq("B", "w", "y")]}}, False),
        ({"and": [{"not": eq("A", "v", 3)}, {"or": [{"name": "alwaysFalse"}, eq("B", "w", "x")]}]}, True),
    ],
)
def test_boolean_operators(cond: dict[str, Any], expected: bool) -> None:
    run = Simulator(flow_with(cond, ["A", "B"]), tasks({"A": {"v": 1}, "B": {"w": "x"}})).run("f")
    assert (len(run.named("C")) == 1) is expected


def test_false_condition_traces_and_does_not_start() -> None:
    run = Simulator(flow_with(eq("A", "v", 2)), tasks({"A": {"v": 1}})).run("f")
    assert run.named("C") == []
    events = [t for t in run.traces if t.event == Trace.EDGE_COND_FALSE]
    assert len(events) == 1
    assert events[0].details["nodes_to"] == ["C"] and events[0].details["parent"] == {"A": run.named("A")[0].id}


def test_a_false_condition_is_never_evaluated_again_for_the_same_combination() -> None:
    calls: list[Any] = []

    def counting(message: Any) -> bool:
        calls.append(message)
        return False

    config = system(
        {
            "f": {
                "edges": [
                    {"from": None, "to": ["A", "B", "Slow"]},
                    {"from": ["A", "B"], "to": "C", "condition": {"name": "counting", "node": "A"}},
                ]
            }
        }
    )
    driver = Driver(config, "f", ports=FakePorts(predicates={"counting": counting}))
    driver.step()
    driver.ports.succeed(driver.id("A"), {"a": 1})
    driver.ports.succeed(driver.id("B"))
    for _ in range(4):  # Slow keeps the flow alive for several more steps
        driver.step()
    assert calls == [{"a": 1}]
    driver.ports.succeed(driver.id("Slow"))
    driver.step()
    assert calls == [{"a": 1}]


def test_results_are_read_lazily_and_once_per_evaluation() -> None:
    config = flow_with({"or": [{"name": "alwaysTrue"}, eq("A", "v", 1)]})
    ports = FakePorts()
    Simulator(config, tasks({"A": {"v": 1}}), ports=ports).run("f")
    assert ports.result_reads == []  # short-circuit: A's result never needed

    config = flow_with({"and": [eq("A", "v", 1), {"name": "fieldExist", "node": "A", "args": {"key": "v"}}]})
    ports = FakePorts()
    Simulator(config, tasks({"A": {"v": 1}}), ports=ports).run("f")
    assert [name for name, _ in ports.result_reads] == ["A"]


def test_predicate_without_node_reads_the_single_source() -> None:
    cond = {"name": "fieldEqual", "args": {"key": "v", "value": 1}}
    assert Simulator(flow_with(cond), tasks({"A": {"v": 1}})).run("f").named("C")
    assert not Simulator(flow_with(cond), tasks({"A": {"v": 2}})).run("f").named("C")


def test_predicates_get_node_args_when_they_ask_for_it() -> None:
    cond = {"name": "argsFieldEqual", "args": {"key": "go", "value": True}}
    config = system({"f": {"edges": [{"from": None, "to": "A", "condition": cond}]}})
    assert Simulator(config).run("f", {"go": True}).named("A")
    assert not Simulator(config).run("f", {"go": False}).named("A")


def test_custom_predicates_module() -> None:
    seen: list[Any] = []

    def isBig(message: Any, node_args: Any, limit: int) -> bool:
        seen.append((message, node_args, limit))
        return bool(message["v"] > limit)

    config = system(
        {
            "f": {
                "edges": [
                    {"from": None, "to": "A"},
                    {"from": "A", "to": "C", "condition": {"name": "isBig", "args": {"limit": 3}}},
                ]
            }
        },
        predicates_module="myapp.predicates",
    )
    ports = FakePorts(predicates={"myapp.predicates.isBig": isBig})
    run = Simulator(config, tasks({"A": {"v": 5}}), ports=ports).run("f", {"n": 1})
    assert run.named("C")
    assert seen == [({"v": 5}, {"n": 1}, 3)]


def test_condition_str_renders_the_tree() -> None:
    rendered = condition_str(condition({"and": [eq("A", "k", 1), {"not": {"name": "alwaysFalse"}}]}))
    assert rendered == "(fieldEqual(node='A', key='k', value=1) and not alwaysFalse())"


def test_reading_a_node_that_is_not_a_source_is_an_error() -> None:
    config = system({"f": {"edges": [{"from": None, "to": "A"}]}})
    context = ConditionContext(config, FakePorts(), None, {"A": "task-1"})
    with pytest.raises(ConditionError):
        evaluate(condition(eq("B", "k", 1)), context)


# -- Beyond Selinon: conditions on results produced inside a finished sub-flow ---------------


def nested_config(cond: dict[str, Any]) -> Any:
    return system(
        {
            "outer": {
                "edges": [
                    {"from": None, "to": "sub"},
                    {"from": "sub", "to": "Next", "condition": cond},
                ]
            },
            "sub": {"edges": [{"from": None, "to": "S1"}, {"from": "S1", "to": "deep"}]},
            "deep": {"edges": [{"from": None, "to": "S2"}]},
        }
    )


def test_condition_reads_a_task_result_inside_a_finished_subflow() -> None:
    behaviour = tasks({"S1": {"ok": True}, "S2": {"depth": 2}})
    assert Simulator(nested_config(eq("sub/S1", "ok", True)), behaviour).run("outer").named("Next")
    assert not Simulator(nested_config(eq("sub/S1", "ok", False)), behaviour).run("outer").named("Next")


def test_condition_path_follows_nested_subflows() -> None:
    behaviour = tasks({"S1": {}, "S2": {"depth": 2}})
    assert Simulator(nested_config(eq("sub/deep/S2", "depth", 2)), behaviour).run("outer").named("Next")
    assert not Simulator(nested_config(eq("sub/deep/S2", "depth", 3)), behaviour).run("outer").named("Next")


def test_condition_path_to_a_node_that_did_not_finish_is_false() -> None:
    behaviour = tasks({"S1": {}})
    cond = {"name": "fieldExist", "node": "sub/Missing", "args": {"key": "x"}}
    assert not Simulator(nested_config(cond), behaviour).run("outer").named("Next")
    assert Simulator(nested_config({"not": cond}), behaviour).run("outer").named("Next")


def test_condition_path_uses_the_subflow_instance_of_the_combination_and_last_task_instance() -> None:
    config = system({"outer": {"edges": [{"from": None, "to": "sub"}]}, "sub": {"edges": [{"from": None, "to": "S1"}]}})
    ports = FakePorts()
    ports.finish_subflow("run-a", {"S1": ["t1", "t2"]})
    ports.finish_subflow("run-b", {"S1": ["t3"]})
    ports.succeed("t1", {"v": "first"})
    ports.succeed("t2", {"v": "last"})
    ports.succeed("t3", {"v": "other"})
    cond = condition(eq("sub/S1", "v", "last"))
    assert evaluate(cond, ConditionContext(config, ports, None, {"sub": "run-a"}))
    assert not evaluate(cond, ConditionContext(config, ports, None, {"sub": "run-b"}))


def test_reading_a_flow_result_directly_is_an_error() -> None:
    config = nested_config({"name": "alwaysTrue"})
    context = ConditionContext(config, FakePorts(), None, {"sub": "run-1"})
    with pytest.raises(ConditionError):
        evaluate(condition(eq("sub", "k", 1)), context)
