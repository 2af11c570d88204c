"""Edge shapes: which nodes start, how often, and with which parents."""

from __future__ import annotations

import itertools
from typing import Any

from selinon_django.engine import FinishFlow, NodeStatus, StartTask
from selinon_django.engine.testing import Simulator, TaskCall

from .builders import system
from .scenario import Driver, tasks


def parents(run: Any, name: str) -> list[dict[str, Any]]:
    return [node.parent for node in run.named(name)]


def test_one_to_one_chain() -> None:
    config = system({"f": {"edges": [{"from": None, "to": "A"}, {"from": "A", "to": "B"}, {"from": "B", "to": "C"}]}})
    run = Simulator(config).run("f", {"x": 1})
    assert run.status == "succeeded"
    assert [n.name for n in run.nodes] == ["A", "B", "C"]
    a, b, c = run.nodes
    assert a.parent == {}
    assert b.parent == {"A": a.id}
    assert c.parent == {"B": b.id}
    assert {n.node_args["x"] for n in run.nodes} == {1}


def test_one_to_many_starts_every_destination_with_the_same_parent() -> None:
    config = system({"f": {"edges": [{"from": None, "to": "A"}, {"from": "A", "to": ["B", "C", "D"]}]}})
    run = Simulator(config).run("f")
    a = run.named("A")[0]
    assert run.counts() == {"A": 1, "B": 1, "C": 1, "D": 1}
    assert all(node.parent == {"A": a.id} for node in run.nodes[1:])


def test_many_to_one_waits_for_every_source() -> None:
    config = system(
        {"f": {"edges": [{"from": None, "to": ["A", "B"]}, {"from": "A", "to": "X"}, {"from": ["X", "B"], "to": "C"}]}}
    )
    driver = Driver(config, "f")
    driver.step()
    driver.ports.succeed(driver.id("A"))
    driver.step()  # A done: X starts; B still pending, C must wait
    assert [s.name for s in driver.results[-1].starts] == ["X"]
    driver.ports.succeed(driver.id("X"))
    result = driver.step()
    assert result.starts == ()
    driver.ports.succeed(driver.id("B"))
    result = driver.step()
    (c,) = result.starts
    assert c.name == "C" and c.parent == {"X": driver.id("X"), "B": driver.id("B")}


def test_many_to_many_combined_edge_starts_each_destination_once() -> None:
    config = system({"f": {"edges": [{"from": None, "to": ["A", "B"]}, {"from": ["A", "B"], "to": ["C", "D"]}]}})
    run = Simulator(config).run("f")
    assert run.counts() == {"A": 1, "B": 1, "C": 1, "D": 1}
    a, b = run.named("A")[0], run.named("B")[0]
    assert parents(run, "C") == [{"A": a.id, "B": b.id}]
    assert parents(run, "D") == [{"A": a.id, "B": b.id}]


def test_separate_edges_fire_independently_unlike_a_combined_edge() -> None:
    separate = system(
        {"f": {"edges": [{"from": None, "to": ["A", "B"]}, {"from": "A", "to": "C"}, {"from": "B", "to": "C"}]}}
    )
    run = Simulator(separate).run("f")
    a, b = run.named("A")[0], run.named("B")[0]
    assert parents(run, "C") == [{"A": a.id}, {"B": b.id}]

    combined = system({"f": {"edges": [{"from": None, "to": ["A", "B"]}, {"from": ["A", "B"], "to": "C"}]}})
    run = Simulator(combined).run("f")
    assert len(run.named("C")) == 1


def test_listing_a_node_twice_in_to_starts_it_twice() -> None:
    config = system({"f": {"edges": [{"from": None, "to": "A"}, {"from": "A", "to": ["B", "B", "B"]}]}})
    run = Simulator(config).run("f")
    assert run.counts() == {"A": 1, "B": 3}
    assert len({n.id for n in run.named("B")}) == 3


def test_join_runs_once_per_combination_of_finished_instances() -> None:
    # A finished twice and B once: A,B -> C runs C twice.
    config = system({"f": {"edges": [{"from": None, "to": ["A", "A", "B"]}, {"from": ["A", "B"], "to": "C"}]}})
    run = Simulator(config).run("f")
    a1, a2 = (n.id for n in run.named("A"))
    b = run.named("B")[0].id
    assert sorted(p["A"] for p in parents(run, "C")) == sorted([a1, a2])
    assert all(p["B"] == b for p in parents(run, "C"))


def test_cycle_with_condition_runs_until_the_condition_is_false() -> None:
    counter = itertools.count(1)
    config = system(
        {
            "f": {
                "edges": [
                    {"from": None, "to": "A"},
                    {
                        "from": "A",
                        "to": "A",
                        "condition": {"name": "fieldLess", "node": "A", "args": {"key": "n", "value": 4}},
                    },
                ]
            }
        }
    )
    run = Simulator(config, tasks({"A": lambda call: {"n": next(counter)}})).run("f")
    a = run.named("A")
    assert len(a) == 4
    assert [n.parent for n in a[1:]] == [{"A": a[0].id}, {"A": a[1].id}, {"A": a[2].id}]


def cyclic_diamond(task4_restarts: int) -> tuple[Any, Any]:
    task4 = itertools.count(1)

    def result(call: TaskCall) -> dict[str, int]:
        return {"n": next(task4)}

    config = system(
        {
            "flow1": {
                "edges": [
                    {"from": None, "to": "Task1"},
                    {"from": "Task1", "to": ["Task2", "Task3"]},
                    {"from": ["Task2", "Task3"], "to": "Task4"},
                    {
                        "from": "Task4",
                        "to": "Task1",
                        "condition": {
                            "name": "fieldLessEqual",
                            "node": "Task4",
                            "args": {"key": "n", "value": task4_restarts},
                        },
                    },
                ]
            }
        }
    )
    return config, tasks({"Task4": result})


def test_cyclic_diamond_runs_task4_for_every_combination() -> None:
    # The documentation's "cyclic diamond": stop after the second iteration -> four Task4 runs.
    config, behaviour = cyclic_diamond(task4_restarts=1)
    run = Simulator(config, behaviour).run("flow1")
    assert run.status == "succeeded"
    assert run.counts() == {"Task1": 2, "Task2": 2, "Task3": 2, "Task4": 4}
    t2 = [n.id for n in run.named("Task2")]
    t3 = [n.id for n in run.named("Task3")]
    combinations = [(p["Task2"], p["Task3"]) for p in parents(run, "Task4")]
    assert combinations[0] == (t2[0], t3[0])
    assert sorted(combinations) == sorted(itertools.product(t2, t3))


def test_cyclic_diamond_third_iteration_combines_with_all_old_instances() -> None:
    # Task4 #1 restarts the loop, and so do the three Task4 runs of iteration 2: each gives a
    # Task1 -> Task2/Task3 round whose new instances combine with every older one.
    config, behaviour = cyclic_diamond(task4_restarts=4)
    run = Simulator(config, behaviour).run("flow1")
    counts = run.counts()
    assert counts["Task1"] == 5
    assert counts["Task2"] == counts["Task3"] == 5
    # every (Task2, Task3) pair of instances produced exactly one Task4
    assert counts["Task4"] == 25
    combinations = [(p["Task2"], p["Task3"]) for p in parents(run, "Task4")]
    assert len(set(combinations)) == 25


def test_edge_fires_when_the_last_member_of_a_combination_finishes_in_the_same_step() -> None:
    # Both sources finish in one step: they are processed one at a time, so C starts exactly once.
    config = system({"f": {"edges": [{"from": None, "to": ["A", "B"]}, {"from": ["A", "B"], "to": "C"}]}})
    driver = Driver(config, "f")
    driver.step()
    driver.ports.succeed(driver.id("A"))
    driver.ports.succeed(driver.id("B"))
    result = driver.step()
    assert [s.name for s in result.starts] == ["C"]
    assert result.state.finished_nodes == {"A": (driver.id("A"),), "B": (driver.id("B"),)}


def test_failed_instances_never_take_part_in_combinations() -> None:
    config = system(
        {
            "f": {
                "edges": [{"from": None, "to": ["A", "A", "B"]}, {"from": ["A", "B"], "to": "C"}],
                "failures": [{"nodes": "A", "fallback": True}],
            }
        }
    )
    driver = Driver(config, "f")
    driver.step()
    a1, a2 = driver.ids("A")
    driver.ports.fail(a1)
    driver.ports.succeed(a2)
    driver.ports.succeed(driver.id("B"))
    result = driver.step()
    (c,) = [s for s in result.starts if isinstance(s, StartTask)]
    assert c.parent == {"A": a2, "B": driver.id("B")}
    driver.ports.succeed(c.id)
    assert isinstance(driver.step().outcome, FinishFlow)


def test_pending_nodes_stay_active_between_steps() -> None:
    config = system({"f": {"edges": [{"from": None, "to": ["A", "B"]}]}})
    driver = Driver(config, "f")
    driver.step()
    driver.ports.succeed(driver.id("A"))
    result = driver.step()
    assert [n.name for n in result.state.active_nodes] == ["B"]
    assert driver.ports.node_status("task", "B", driver.id("B")) is NodeStatus.PENDING
