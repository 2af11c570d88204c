"""Selective runs: the edges that must fire to reach the requested tasks, per flow."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import pytest

from selinon_django.config.model import Edge, Failure, Flow, Selective, SystemConfig, Task
from selinon_django.engine.selective import compute_selective, plan_for_selective_edge, startable_nodes
from selinon_django.engine.selective_plan import SelectivePlan
from selinon_django.errors import SelectiveNoPathError, UnknownFlowError

EdgeSpec = tuple[Sequence[str], Sequence[str]]


def make_config(
    flows: Mapping[str, Sequence[EdgeSpec | Edge]],
    failures: Mapping[str, Sequence[Failure]] | None = None,
) -> SystemConfig:
    built: dict[str, Flow] = {}
    names: set[str] = set()
    for flow_name, specs in flows.items():
        edges = []
        for index, spec in enumerate(specs):
            if isinstance(spec, Edge):
                edges.append(spec)
            else:
                edges.append(Edge(index=index, from_=tuple(spec[0]), to=tuple(spec[1])))
        flow = Flow(name=flow_name, edges=tuple(edges), failures=tuple((failures or {}).get(flow_name, ())))
        built[flow_name] = flow
        names |= flow.nodes()
    tasks = {name: Task(name=name, module="myproject.tasks", classname=name) for name in names - set(flows)}
    return SystemConfig(tasks=MappingProxyType(tasks), storages=MappingProxyType({}), flows=MappingProxyType(built))


def edges_of(plan: SelectivePlan, flow_name: str) -> dict[int, tuple[str, ...]]:
    flow_plan = plan.for_flow(flow_name)
    assert flow_plan is not None, f"no plan for {flow_name}"
    return dict(flow_plan.edges)


# The documentation's "YAML configuration used in examples".
DOCS: dict[str, list[EdgeSpec | Edge]] = {
    "selective_flow1": [((), ("Task1",)), (("Task1",), ("Task2", "Task3"))],
    "selective_flow2": [
        ((), ("Task4",)),
        Edge(index=1, from_=("Task4",), to=("selective_flow1",), selective=Selective(tasks=("Task2",))),
    ],
}


def test_docs_selective_flow1_runs_task1_and_task2_only() -> None:
    plan = compute_selective(make_config(DOCS), "selective_flow1", ["Task2"])
    assert edges_of(plan, "selective_flow1") == {0: ("Task1",), 1: ("Task2",)}
    assert plan.task_names == ("Task2",)
    assert set(plan.flows) == {"selective_flow1"}
    flow_plan = plan.for_flow("selective_flow1")
    assert flow_plan is not None
    assert not flow_plan.subsequent_edges
    assert flow_plan.fires(1) and not flow_plan.fires(2)


def test_docs_selective_flow2_follow_subflows_reaches_task2_through_the_subflow() -> None:
    plan = compute_selective(make_config(DOCS), "selective_flow2", ["Task2"], follow_subflows=True)
    assert edges_of(plan, "selective_flow2") == {0: ("Task4",), 1: ("selective_flow1",)}
    assert edges_of(plan, "selective_flow1") == {0: ("Task1",), 1: ("Task2",)}
    assert plan.follow_subflows is True


def test_docs_selective_flow2_without_follow_subflows_has_no_path() -> None:
    with pytest.raises(SelectiveNoPathError, match="Task2"):
        compute_selective(make_config(DOCS), "selective_flow2", ["Task2"])


def test_edge_level_selective_plans_the_single_subflow() -> None:
    config = make_config(DOCS)
    edge = config.flows["selective_flow2"].edges[1]
    plan = plan_for_selective_edge(config, edge)
    assert set(plan.flows) == {"selective_flow1"}
    assert edges_of(plan, "selective_flow1") == {0: ("Task1",), 1: ("Task2",)}
    assert (plan.follow_subflows, plan.run_subsequent) == (False, False)


def test_edge_level_selective_refuses_edges_it_does_not_apply_to() -> None:
    config = make_config(DOCS)
    with pytest.raises(ValueError, match="no 'selective'"):
        plan_for_selective_edge(config, config.flows["selective_flow1"].edges[1])
    bad = Edge(index=0, from_=(), to=("Task1", "selective_flow1"), selective=Selective(tasks=("Task2",)))
    with pytest.raises(ValueError, match="one sub-flow"):
        plan_for_selective_edge(config, bad)


def test_plan_survives_a_json_round_trip() -> None:
    plan = compute_selective(make_config(DOCS), "selective_flow2", ["Task2"], follow_subflows=True)
    assert SelectivePlan.from_dict(plan.to_dict()) == plan


def test_unknown_task_has_no_path_and_unknown_flow_is_refused() -> None:
    config = make_config(DOCS)
    with pytest.raises(SelectiveNoPathError, match="Nope"):
        compute_selective(config, "selective_flow1", ["Task2", "Nope"])
    with pytest.raises(UnknownFlowError):
        compute_selective(config, "no_such_flow", ["Task2"])
    with pytest.raises(ValueError, match="at least one"):
        compute_selective(config, "selective_flow1", [])


def test_node_only_behind_a_never_started_source_has_no_path() -> None:
    config = make_config({"flow1": [((), ("A",)), (("A", "Ghost"), ("B",)), (("Ghost",), ("C",))]})
    assert startable_nodes(config.flows["flow1"]) == {"A"}
    with pytest.raises(SelectiveNoPathError, match="B"):
        compute_selective(config, "flow1", ["B"])


def test_path_via_a_fallback_does_not_count() -> None:
    """"There has to be a direct path to desired task, not via failure edges"."""
    config = make_config(
        {"flow1": [((), ("A",)), (("Recover",), ("B",))]},
        failures={"flow1": [Failure(nodes=frozenset({"A"}), fallback=("Recover",))]},
    )
    with pytest.raises(SelectiveNoPathError):
        compute_selective(config, "flow1", ["B"])
    with pytest.raises(SelectiveNoPathError):
        compute_selective(config, "flow1", ["Recover"])


def test_multiple_paths_are_all_included() -> None:
    """A -> B -> D and A -> C -> D and a join B, C -> E: every edge into the target's ancestry."""
    config = make_config(
        {
            "flow1": [
                ((), ("A", "X")),
                (("A",), ("B", "C", "Y")),
                (("B",), ("D",)),
                (("C",), ("D",)),
                (("X",), ("Z",)),
                (("D",), ("W",)),
            ]
        }
    )
    plan = compute_selective(config, "flow1", ["D"])
    assert edges_of(plan, "flow1") == {0: ("A",), 1: ("B", "C"), 2: ("D",), 3: ("D",)}


def test_join_needs_all_of_its_sources() -> None:
    config = make_config({"flow1": [((), ("A", "B", "C")), (("A", "B"), ("D",))]})
    plan = compute_selective(config, "flow1", ["D"])
    assert edges_of(plan, "flow1") == {0: ("A", "B"), 1: ("D",)}


def test_cyclic_edge_on_the_path_is_included() -> None:
    """start -> T1 -> T2 -> T1 (cycle): the cycle edge T2 -> T1 leads into T1, so it fires too."""
    config = make_config({"flow1": [((), ("T1",)), (("T1",), ("T2", "T3")), (("T2",), ("T1",))]})
    plan = compute_selective(config, "flow1", ["T2"])
    assert edges_of(plan, "flow1") == {0: ("T1",), 1: ("T2",), 2: ("T1",)}


def test_a_destination_listed_twice_starts_twice() -> None:
    config = make_config({"flow1": [((), ("A",)), (("A",), ("B", "C", "B"))]})
    plan = compute_selective(config, "flow1", ["B"])
    assert edges_of(plan, "flow1") == {0: ("A",), 1: ("B", "B")}


def test_several_targets_share_prerequisites() -> None:
    config = make_config({"flow1": [((), ("A",)), (("A",), ("B", "C", "D"))]})
    plan = compute_selective(config, "flow1", ["D", "B", "D"])
    assert plan.task_names == ("D", "B")
    assert edges_of(plan, "flow1") == {0: ("A",), 1: ("B", "D")}


def test_run_subsequent_adds_everything_downstream_of_the_targets() -> None:
    config = make_config(
        {
            "flow1": [
                ((), ("A",)),
                (("A",), ("B", "C")),
                (("B",), ("D",)),
                (("D",), ("E",)),
                (("C",), ("F",)),
                (("A", "D"), ("G",)),  # join of a prerequisite and a downstream node
                (("C", "D"), ("H",)),  # C never runs in this selective run
            ]
        }
    )
    plan = compute_selective(config, "flow1", ["B"], run_subsequent=True)
    flow_plan = plan.for_flow("flow1")
    assert flow_plan is not None
    assert dict(flow_plan.edges) == {0: ("A",), 1: ("B",)}
    assert flow_plan.subsequent_edges == {2, 3, 5}
    assert plan.run_subsequent is True


def test_run_subsequent_edge_on_the_path_fires_in_full_only_as_subsequent() -> None:
    """T2 -> T1 closes a cycle: downstream of T2, so T1's edge fires in full (T3 too)."""
    config = make_config({"flow1": [((), ("T1",)), (("T1",), ("T2", "T3")), (("T2",), ("T1",))]})
    plan = compute_selective(config, "flow1", ["T2"], run_subsequent=True)
    flow_plan = plan.for_flow("flow1")
    assert flow_plan is not None
    assert dict(flow_plan.edges) == {0: ("T1",)}
    assert flow_plan.subsequent_edges == {1, 2}
    assert all(flow_plan.fires(index) for index in (0, 1, 2))


def test_follow_subflows_through_nested_subflows_only_where_needed() -> None:
    config = make_config(
        {
            "top": [((), ("Start",)), (("Start",), ("middle", "other", "Side"))],
            "middle": [((), ("M1",)), (("M1",), ("deep",)), (("M1",), ("M2",))],
            "deep": [((), ("D1", "Target"))],
            "other": [((), ("O1",))],
        }
    )
    plan = compute_selective(config, "top", ["Target"], follow_subflows=True)
    assert set(plan.flows) == {"top", "middle", "deep"}
    assert edges_of(plan, "top") == {0: ("Start",), 1: ("middle",)}
    assert edges_of(plan, "middle") == {0: ("M1",), 1: ("deep",)}
    assert edges_of(plan, "deep") == {0: ("Target",)}


def test_follow_subflows_target_in_top_flow_and_in_subflow() -> None:
    config = make_config(
        {
            "top": [((), ("T",)), (("T",), ("sub",))],
            "sub": [((), ("Pre",)), (("Pre",), ("T",))],
        }
    )
    plan = compute_selective(config, "top", ["T"], follow_subflows=True)
    assert edges_of(plan, "top") == {0: ("T",), 1: ("sub",)}
    assert edges_of(plan, "sub") == {0: ("Pre",), 1: ("T",)}
    # without following sub-flows only the top flow is planned
    plan = compute_selective(config, "top", ["T"])
    assert set(plan.flows) == {"top"}
    assert edges_of(plan, "top") == {0: ("T",)}


def test_follow_subflows_recursive_flow_is_planned_once() -> None:
    config = make_config({"rec": [((), ("A",)), (("A",), ("rec",)), (("A",), ("B",))]})
    plan = compute_selective(config, "rec", ["B"], follow_subflows=True)
    assert set(plan.flows) == {"rec"}
    # the recursive sub-flow reaches B as well, so it is started (its own condition gates it)
    assert edges_of(plan, "rec") == {0: ("A",), 1: ("rec",), 2: ("B",)}


def test_run_subsequent_in_parent_continues_after_the_subflow_that_holds_the_target() -> None:
    config = make_config(
        {
            "top": [((), ("sub",)), (("sub",), ("After",)), ((), ("Unrelated",))],
            "sub": [((), ("Target",)), (("Target",), ("Next",))],
        }
    )
    plan = compute_selective(config, "top", ["Target"], follow_subflows=True, run_subsequent=True)
    top, sub = plan.for_flow("top"), plan.for_flow("sub")
    assert top is not None and sub is not None
    assert dict(top.edges) == {0: ("sub",)} and top.subsequent_edges == {1}
    assert dict(sub.edges) == {0: ("Target",)} and sub.subsequent_edges == {1}


def test_a_subflow_requested_as_a_target_runs_in_full() -> None:
    config = make_config(DOCS)
    plan = compute_selective(config, "selective_flow2", ["selective_flow1"])
    assert set(plan.flows) == {"selective_flow2"}
    assert edges_of(plan, "selective_flow2") == {0: ("Task4",), 1: ("selective_flow1",)}
    # following sub-flows, a sub-flow that holds no target is still not planned (it runs in full)
    plan = compute_selective(config, "selective_flow2", ["selective_flow1"], follow_subflows=True)
    assert set(plan.flows) == {"selective_flow2"}
