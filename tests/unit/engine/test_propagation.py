"""What started nodes receive: node_args, parent, propagated sub-flow results; nowait; foreach."""

from __future__ import annotations

from typing import Any

from selinon_django.engine import FailFlow, FinishFlow, Reschedule, ReuseTask, StartFlow, StartTask, Trace
from selinon_django.engine.testing import FakePorts, Simulator

from .builders import system
from .scenario import Driver, tasks


def subflow_config(**outer: Any) -> Any:
    return system(
        {
            "outer": {
                "edges": [
                    {"from": None, "to": "Start"},
                    {"from": "Start", "to": ["sub", "other"]},
                    {"from": "sub", "to": "After"},
                ],
                **outer,
            },
            "sub": {"edges": [{"from": None, "to": "S1"}, {"from": "S1", "to": "deep"}]},
            "other": {"edges": [{"from": None, "to": "O1"}]},
            "deep": {"edges": [{"from": None, "to": ["S2", "S2"]}]},
        }
    )


# -- node_args ----------------------------------------------------------------------------------


def test_subflows_get_node_args_only_when_propagated() -> None:
    run = Simulator(subflow_config()).run("outer", {"k": 1})
    assert run.named("sub")[0].node_args is None
    assert run.subrun("sub").named("S1")[0].node_args is None  # tasks see the sub-flow's args
    assert run.named("Start")[0].node_args == {"k": 1}

    run = Simulator(subflow_config(propagate_node_args=True)).run("outer", {"k": 1})
    assert run.named("sub")[0].node_args == {"k": 1} and run.named("other")[0].node_args == {"k": 1}
    assert run.subrun("sub").named("S1")[0].node_args == {"k": 1}

    run = Simulator(subflow_config(propagate_node_args=["other"])).run("outer", {"k": 1})
    assert run.named("sub")[0].node_args is None and run.named("other")[0].node_args == {"k": 1}


def test_node_args_from_first_replaces_node_args_with_the_first_result() -> None:
    config = system(
        {
            "f": {
                "node_args_from_first": True,
                "propagate_node_args": True,
                "edges": [
                    {"from": None, "to": "First"},
                    {"from": "First", "to": ["Second", "sub"]},
                    {"from": "Second", "to": "First", "condition": {"name": "alwaysFalse"}},
                ],
            },
            "sub": {"edges": [{"from": None, "to": "S"}]},
        }
    )
    run = Simulator(config, tasks({"First": {"from": "first"}})).run("f", {"orig": True})
    assert run.named("First")[0].node_args == {"orig": True}
    assert run.named("Second")[0].node_args == {"from": "first"}
    assert run.named("sub")[0].node_args == {"from": "first"}
    assert run.node_args == {"from": "first"}


def test_node_args_from_first_is_reported_in_the_step_result() -> None:
    config = system(
        {"f": {"node_args_from_first": True, "edges": [{"from": None, "to": "A"}, {"from": "A", "to": "B"}]}}
    )
    driver = Driver(config, "f", node_args={"n": 0})
    driver.step()
    driver.ports.succeed(driver.id("A"), {"n": 1})
    result = driver.step()
    assert result.node_args == {"n": 1}
    (b,) = result.starts
    assert isinstance(b, StartTask) and b.node_args == {"n": 1}


def test_without_node_args_from_first_node_args_stay() -> None:
    config = system({"f": {"edges": [{"from": None, "to": "A"}, {"from": "A", "to": "B"}]}})
    run = Simulator(config, tasks({"A": {"n": 1}})).run("f", {"n": 0})
    assert run.named("B")[0].node_args == {"n": 0}


def test_recursive_flow_with_node_args_from_first() -> None:
    config = system(
        {
            "f": {
                "node_args_from_first": True,
                "propagate_node_args": True,
                "edges": [
                    {"from": None, "to": "A"},
                    {"from": "A", "to": "f", "condition": {"name": "fieldLess", "args": {"key": "depth", "value": 3}}},
                ],
            }
        }
    )
    run = Simulator(config, tasks({"A": lambda call: {"depth": (call.node_args or {}).get("depth", 0) + 1}})).run("f")
    depths = []
    current: Any = run
    while current is not None:
        depths.append(current.node_args)
        subs = current.named("f")
        current = current.subrun("f") if subs else None
    assert depths == [{"depth": 1}, {"depth": 2}, {"depth": 3}]
    assert run.status == "succeeded"


# -- parent -----------------------------------------------------------------------------------


def test_subflow_parent_only_when_propagate_parent_covers_it() -> None:
    run = Simulator(subflow_config()).run("outer")
    start = run.named("Start")[0]
    assert run.named("sub")[0].parent is None

    run = Simulator(subflow_config(propagate_parent=["sub"])).run("outer")
    start = run.named("Start")[0]
    sub = run.named("sub")[0]
    assert sub.parent == {"Start": start.id}
    assert run.named("other")[0].parent is None
    # the sub-flow's starting tasks receive the propagated parent
    assert run.subrun("sub").named("S1")[0].parent == {"Start": start.id}
    # ... and a sub-sub-flow gets it only if the sub-flow propagates it
    assert run.subrun("sub").named("deep")[0].parent is None


def test_tasks_after_a_subflow_get_no_entry_for_it_by_default() -> None:
    run = Simulator(subflow_config()).run("outer")
    assert run.named("After")[0].parent == {}


def test_propagate_finished_nests_subflow_results() -> None:
    run = Simulator(subflow_config(propagate_finished=True)).run("outer")
    sub = run.subrun("sub")
    s1 = sub.named("S1")[0].id
    s2 = [n.id for n in sub.subrun("deep").named("S2")]
    assert run.named("After")[0].parent == {"sub": {"S1": [s1], "deep": {"S2": s2}}}


def test_propagate_compound_finished_flattens_subflow_results() -> None:
    run = Simulator(subflow_config(propagate_compound_finished=["sub"])).run("outer")
    sub = run.subrun("sub")
    s1 = sub.named("S1")[0].id
    s2 = [n.id for n in sub.subrun("deep").named("S2")]
    assert run.named("After")[0].parent == {"sub": {"S1": [s1], "S2": s2}}


def test_propagate_finished_merges_several_runs_of_a_nested_subflow() -> None:
    config = system(
        {
            "outer": {
                "propagate_finished": True,
                "edges": [{"from": None, "to": "sub"}, {"from": "sub", "to": "After"}],
            },
            "sub": {"edges": [{"from": None, "to": ["deep", "deep"]}]},
            "deep": {"edges": [{"from": None, "to": "S"}]},
        }
    )
    run = Simulator(config).run("outer")
    deeps = run.subrun("sub").named("deep")
    s_ids = [run.subrun("sub").subrun("deep", i).named("S")[0].id for i in range(len(deeps))]
    assert run.named("After")[0].parent == {"sub": {"deep": {"S": s_ids}}}


def test_subflow_parent_carries_propagated_finished_nodes() -> None:
    config = system(
        {
            "outer": {
                "propagate_finished": True,
                "propagate_parent": True,
                "edges": [{"from": None, "to": "sub"}, {"from": "sub", "to": "next"}],
            },
            "sub": {"edges": [{"from": None, "to": "S"}]},
            "next": {"edges": [{"from": None, "to": "N"}]},
        }
    )
    run = Simulator(config).run("outer")
    s = run.subrun("sub").named("S")[0].id
    assert run.named("next")[0].parent == {"sub": {"S": [s]}}


# -- nowait -----------------------------------------------------------------------------------


def test_nowait_nodes_are_started_but_not_tracked() -> None:
    config = system({"f": {"nowait": ["N"], "edges": [{"from": None, "to": ["A", "N"]}]}})
    driver = Driver(config, "f")
    first = driver.step()
    n = next(s for s in first.starts if s.name == "N")
    assert isinstance(n, StartTask) and n.nowait
    assert [node.name for node in first.state.active_nodes] == ["A"]
    assert [node.name for node in first.new_started_nodes] == ["A"]
    driver.ports.fail(n.id)  # ignored
    driver.ports.succeed(driver.id("A"))
    assert isinstance(driver.step().outcome, FinishFlow)


def test_nowait_subflow_failure_is_ignored() -> None:
    config = system(
        {
            "f": {"nowait": "sub", "edges": [{"from": None, "to": "A"}, {"from": "A", "to": "sub"}]},
            "sub": {"edges": [{"from": None, "to": "X"}]},
        }
    )
    run = Simulator(config, tasks(fail={"X"})).run("f")
    assert run.status == "succeeded"
    assert run.named("sub")[0].nowait


# -- foreach ----------------------------------------------------------------------------------


def foreach_config(items_to: str, propagate_result: bool, cond: Any = None) -> Any:
    edge: dict[str, Any] = {
        "from": "List",
        "to": [items_to],
        "foreach": {"function": "items", "import": "myapp.foreach", "propagate_result": propagate_result},
    }
    if cond is not None:
        edge["condition"] = cond
    return system(
        {
            "batch": {"edges": [{"from": None, "to": "List"}, edge, {"from": items_to, "to": "Done"}]},
            "one": {"edges": [{"from": None, "to": "Item"}]},
        }
    )


def foreach_ports(items: list[Any]) -> FakePorts:
    return FakePorts(functions={"myapp.foreach.items": lambda storage_pool, node_args: list(items)})


def test_foreach_starts_one_set_of_destinations_per_item() -> None:
    ports = foreach_ports([1, 2, 3])
    run = Simulator(foreach_config("Work", False), ports=ports).run("batch", {"b": 1})
    assert run.counts() == {"List": 1, "Work": 3, "Done": 3}
    assert all(n.node_args == {"b": 1} for n in run.named("Work"))  # tasks never see the item
    assert ports.foreach_calls == [("myapp.foreach.items", {"b": 1}, {"List": run.named("List")[0].id})]
    (event,) = [t for t in run.traces if t.event == Trace.FOREACH_RESULT]
    assert event.details["result"] == [1, 2, 3]


def test_foreach_with_propagate_result_gives_each_subflow_its_item() -> None:
    run = Simulator(foreach_config("one", True), ports=foreach_ports([1, 2, 3])).run("batch", {})
    subs = run.named("one")
    assert [s.node_args for s in subs] == [1, 2, 3]
    assert [run.subrun("one", i).named("Item")[0].node_args for i in range(3)] == [1, 2, 3]
    assert all(s.parent is None for s in subs)
    assert [d.parent for d in run.named("Done")] == [{}, {}, {}]


def test_foreach_without_propagate_result_subflows_follow_propagate_node_args() -> None:
    run = Simulator(foreach_config("one", False), ports=foreach_ports(["x", "y"])).run("batch", {"a": 1})
    assert [s.node_args for s in run.named("one")] == [None, None]


def test_foreach_with_empty_result_starts_nothing() -> None:
    run = Simulator(foreach_config("Work", False), ports=foreach_ports([])).run("batch")
    assert run.status == "succeeded"
    assert run.counts() == {"List": 1}


def test_foreach_function_is_called_only_after_the_condition_is_true() -> None:
    ports = foreach_ports([1])
    run = Simulator(foreach_config("Work", False, cond={"name": "alwaysFalse"}), ports=ports).run("batch")
    assert ports.foreach_calls == []
    assert run.counts() == {"List": 1}


def test_foreach_with_several_destinations() -> None:
    config = system(
        {
            "f": {
                "edges": [
                    {"from": None, "to": "A"},
                    {"from": "A", "to": ["B", "C"], "foreach": {"function": "items", "import": "myapp.foreach"}},
                ]
            }
        }
    )
    driver = Driver(config, "f", ports=foreach_ports([1, 2]))
    driver.step()
    driver.ports.succeed(driver.id("A"))
    result = driver.step()
    assert [s.name for s in result.starts] == ["B", "C", "B", "C"]


# -- throttling and sampling --------------------------------------------------------------------


def test_throttled_starts_carry_the_countdown_from_the_ports() -> None:
    config = system(
        {
            "f": {"edges": [{"from": None, "to": ["T", "T", "U", "sub"]}]},
            "sub": {"throttling": 30, "edges": [{"from": None, "to": "U"}]},
        },
        tasks={"T": {"throttling": 10}},
    )
    countdowns = iter([None, 10.0, 30.0])
    ports = FakePorts(throttle=lambda kind, name, interval: next(countdowns))
    result = Driver(config, "f", ports=ports).step()
    assert [(s.name, s.countdown) for s in result.starts if not isinstance(s, ReuseTask)] == [
        ("T", None),
        ("T", 10.0),
        ("U", None),
        ("sub", 30.0),
    ]
    assert ports.throttle_calls == [("task", "T", 10), ("task", "T", 10), ("flow", "sub", 30)]


def test_sampling_strategy_gets_the_documented_status_and_decides_the_countdown() -> None:
    seen: list[dict[str, Any]] = []

    def strategy(status: dict[str, Any], base: float) -> float:
        seen.append(status)
        return base + len(status["new_started_nodes"])

    config = system(
        {
            "f": {
                "sampling": {"name": "mine", "import": "myapp.sampling", "args": {"base": 5}},
                "edges": [{"from": None, "to": ["A", "B"]}],
            }
        }
    )
    driver = Driver(config, "f", ports=FakePorts(strategies={"myapp.sampling.mine": strategy}))
    first = driver.step()
    assert first.outcome == Reschedule(7)
    assert set(seen[0]) == {
        "previous_retry",
        "active_nodes",
        "failed_nodes",
        "new_started_nodes",
        "new_fallback_nodes",
        "finished_nodes",
    }
    assert seen[0]["previous_retry"] is None and seen[0]["new_started_nodes"] == ["A", "B"]
    assert seen[0]["active_nodes"] == [{"name": "A", "id": driver.id("A")}, {"name": "B", "id": driver.id("B")}]
    driver.ports.succeed(driver.id("A"))
    second = driver.step()
    assert second.outcome == Reschedule(5)
    assert seen[1]["previous_retry"] == 7 and seen[1]["finished_nodes"] == {"A": [driver.id("A")]}


def stopping_config() -> Any:
    return system({"f": {"sampling": {"name": "stop", "import": "x"}, "edges": [{"from": None, "to": ["A", "B"]}]}})


def test_strategy_answering_none_ends_the_flow() -> None:
    driver = Driver(stopping_config(), "f", ports=FakePorts(strategies={"x.stop": lambda status: None}))
    assert isinstance(driver.step().outcome, FinishFlow)


def test_strategy_answering_none_with_failures_fails_the_flow() -> None:
    answers = iter([1, None])
    driver = Driver(stopping_config(), "f", ports=FakePorts(strategies={"x.stop": lambda status: next(answers)}))
    driver.step()
    driver.ports.fail(driver.id("A"))
    assert isinstance(driver.step().outcome, FailFlow)


def test_subflow_start_action_shape() -> None:
    result = Driver(subflow_config(propagate_node_args=True), "outer", node_args={"k": 1}).step()
    assert isinstance(result.starts[0], StartTask)
    driver = Driver(subflow_config(propagate_node_args=True), "outer", node_args={"k": 1})
    driver.step()
    driver.ports.succeed(driver.id("Start"))
    starts = driver.step().starts
    sub = starts[0]
    assert isinstance(sub, StartFlow)
    assert (sub.name, sub.node_args, sub.parent, sub.selective, sub.edge) == ("sub", {"k": 1}, None, None, 1)
