"""How the dispatcher follows a selective plan (the plan itself is computed by engine.selective)."""

from __future__ import annotations

from typing import Any

from selinon_django.engine import ReuseTask, SelectivePlan, Trace
from selinon_django.engine.selective import compute_selective
from selinon_django.engine.selective_plan import FlowPlan
from selinon_django.engine.testing import FakePorts, Simulator

from .builders import system
from .scenario import tasks

FLOWS = {
    "selective_flow1": {
        "edges": [
            {"from": None, "to": "Task1"},
            {"from": "Task1", "to": ["Task2", "Task3"]},
            {"from": "Task2", "to": "Task5"},
        ]
    },
    "selective_flow2": {"edges": [{"from": None, "to": "Task4"}, {"from": "Task4", "to": "selective_flow1"}]},
}


def config(**task_options: Any) -> Any:
    return system(FLOWS, tasks=task_options)


def test_only_the_path_to_the_target_runs() -> None:
    cfg = config()
    plan = compute_selective(cfg, "selective_flow1", ["Task2"])
    run = Simulator(cfg).run("selective_flow1", {"foo": "bar"}, selective=plan)
    assert run.status == "succeeded"
    assert run.counts() == {"Task1": 1, "Task2": 1}
    omitted = [t.details["node_name"] for t in run.traces if t.event == Trace.SELECTIVE_OMIT_NODE]
    assert omitted == ["Task3"]
    assert any(t.event == Trace.SELECTIVE_OMIT_EDGE and t.details["edge"] == 2 for t in run.traces)


def test_plan_given_as_its_json_dict_works_the_same() -> None:
    cfg = config()
    plan = compute_selective(cfg, "selective_flow1", ["Task2"]).to_dict()
    assert Simulator(cfg).run("selective_flow1", selective=plan).counts() == {"Task1": 1, "Task2": 1}


def test_run_subsequent_fires_edges_downstream_of_the_targets() -> None:
    cfg = config()
    plan = compute_selective(cfg, "selective_flow1", ["Task2"], run_subsequent=True)
    run = Simulator(cfg).run("selective_flow1", selective=plan)
    assert run.counts() == {"Task1": 1, "Task2": 1, "Task5": 1}


def test_selective_run_function_can_reuse_an_earlier_result() -> None:
    cfg = config(Task1={"selective_run_function": ("myapp.selective", "reuse")})
    calls: list[tuple[Any, ...]] = []

    def reuse(flow_name: str, node_name: str, node_args: Any, task_names: list[str], storage_pool: Any) -> str:
        calls.append((flow_name, node_name, node_args, task_names))
        return "old-task1"

    ports = FakePorts(functions={"myapp.selective.reuse": reuse})
    ports.succeed("old-task1", {"reused": True})
    plan = compute_selective(cfg, "selective_flow1", ["Task2"])
    run = Simulator(cfg, ports=ports).run("selective_flow1", {"a": 1}, selective=plan)
    assert calls == [("selective_flow1", "Task1", {"a": 1}, ["Task2"])]
    task1 = run.named("Task1")[0]
    assert task1.reused and task1.id == "old-task1"
    assert run.named("Task2")[0].parent == {"Task1": "old-task1"}
    assert run.status == "succeeded"
    assert isinstance(run.steps[0].starts[0], ReuseTask)
    assert run.outcome.result["finished_nodes"]["Task1"] == ["old-task1"]
    assert any(t.event == Trace.SELECTIVE_TASK_REUSE for t in run.traces)


def test_selective_run_function_answering_none_runs_the_task() -> None:
    cfg = config(Task1={"selective_run_function": ("myapp.selective", "run")})
    ports = FakePorts(functions={"myapp.selective.run": lambda *args: None})
    plan = compute_selective(cfg, "selective_flow1", ["Task2"])
    run = Simulator(cfg, ports=ports).run("selective_flow1", selective=plan)
    assert not run.named("Task1")[0].reused
    assert [t.details["result"] for t in run.traces if t.event == Trace.SELECTIVE_RUN_FUNC] == [None]


def test_targets_and_subsequent_nodes_never_ask_the_selective_run_function() -> None:
    cfg = config(
        Task2={"selective_run_function": ("myapp.selective", "boom")},
        Task5={"selective_run_function": ("myapp.selective", "boom")},
    )

    def boom(*args: Any) -> str:
        raise AssertionError("must not be called")

    plan = compute_selective(cfg, "selective_flow1", ["Task2"], run_subsequent=True)
    run = Simulator(cfg, ports=FakePorts(functions={"myapp.selective.boom": boom})).run(
        "selective_flow1", selective=plan
    )
    assert run.counts() == {"Task1": 1, "Task2": 1, "Task5": 1}


def test_follow_subflows_hands_the_plan_to_subflows_on_the_path() -> None:
    cfg = config()
    plan = compute_selective(cfg, "selective_flow2", ["Task2"], follow_subflows=True)
    run = Simulator(cfg).run("selective_flow2", selective=plan)
    sub = run.named("selective_flow1")[0]
    assert sub.run is not None and sub.run.selective == plan.to_dict()
    assert sub.run.counts() == {"Task1": 1, "Task2": 1}


def test_edge_level_selective_starts_the_subflow_with_its_own_plan() -> None:
    flows = {
        "selective_flow1": FLOWS["selective_flow1"],
        "selective_flow2": {
            "edges": [
                {"from": None, "to": "Task4"},
                {"from": "Task4", "to": "selective_flow1", "selective": {"tasks": ["Task2"]}},
            ]
        },
    }
    run = Simulator(system(flows)).run("selective_flow2")
    assert run.counts() == {"Task4": 1, "selective_flow1": 1}
    sub = run.named("selective_flow1")[0].run
    assert sub is not None and sub.counts() == {"Task1": 1, "Task2": 1}
    assert SelectivePlan.from_dict(sub.selective or {}).task_names == ("Task2",)


def test_subflow_not_leading_to_a_target_runs_in_full() -> None:
    flows = {
        "top": {"edges": [{"from": None, "to": "prep"}, {"from": "prep", "to": "Target"}]},
        "prep": {"edges": [{"from": None, "to": "P1"}, {"from": "P1", "to": "P2"}]},
    }
    cfg = system(flows)
    plan = SelectivePlan(
        task_names=("Target",),
        flows={"top": FlowPlan(edges={0: ("prep",), 1: ("Target",)})},
    )
    run = Simulator(cfg).run("top", selective=plan)
    prep = run.named("prep")[0]
    assert prep.run is not None and prep.run.selective is None
    assert prep.run.counts() == {"P1": 1, "P2": 1}
    assert run.counts() == {"prep": 1, "Target": 1}


def test_conditions_still_apply_on_the_selective_path() -> None:
    flows = {
        "f": {"edges": [{"from": None, "to": "A"}, {"from": "A", "to": "B", "condition": {"name": "alwaysFalse"}}]}
    }
    cfg = system(flows)
    run = Simulator(cfg, tasks()).run("f", selective=compute_selective(cfg, "f", ["B"]))
    assert run.counts() == {"A": 1}
