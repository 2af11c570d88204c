"""Migrations: diffing flow graphs, Selinon's N.json files, applying chains to running states."""
from __future__ import annotations

import json
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

import pytest

from selinon_django.config.model import Edge, Failure, Flow, Predicate, SystemConfig, Task
from selinon_django.engine.migration_plan import diff_flows, generate_migration
from selinon_django.engine.migrations import (
    FlowMigration,
    Migration,
    TaintedFlowStrategy,
    apply_migrations,
    check_skew,
    migration_file_name,
    migration_from_json,
    migration_to_json,
    parse_migration_file_name,
    select_chain,
)
from selinon_django.errors import MigrationSkew

IGNORE, RETRY, FAIL = TaintedFlowStrategy.IGNORE, TaintedFlowStrategy.RETRY, TaintedFlowStrategy.FAIL

EdgeSpec = tuple[Sequence[str], Sequence[str]]


def make_flow(name: str, specs: Sequence[EdgeSpec | Edge], failures: Sequence[Failure] = ()) -> Flow:
    edges = [
        spec if isinstance(spec, Edge) else Edge(index=i, from_=tuple(spec[0]), to=tuple(spec[1]))
        for i, spec in enumerate(specs)
    ]
    return Flow(name=name, edges=tuple(edges), failures=tuple(failures))


def make_config(*flows: Flow) -> SystemConfig:
    names = set().union(*(flow.nodes() for flow in flows)) - {flow.name for flow in flows}
    return SystemConfig(
        tasks=MappingProxyType({n: Task(name=n, module="myproject.tasks", classname=n) for n in names}),
        storages=MappingProxyType({}),
        flows=MappingProxyType({flow.name: flow for flow in flows}),
    )


def state(
    *,
    active: Sequence[str] = (),
    finished: Sequence[str] = (),
    waiting: Sequence[int] = (),
    triggered: Sequence[int] = (),
) -> dict[str, Any]:
    return {
        "active_nodes": [{"name": name, "id": f"{name}-id"} for name in active],
        "finished_nodes": {name: [f"{name}-id"] for name in finished},
        "failed_nodes": {},
        "waiting_edges": list(waiting),
        "triggered_edges": list(triggered),
    }


def migration_of(old: Flow, new: Flow, strategy: TaintedFlowStrategy = IGNORE) -> Migration:
    migration = generate_migration(make_config(old), make_config(new), strategy)
    assert migration is not None
    return migration


# --- the documentation's "tainted edges" example ------------------------------------------------

TAINTED_OLD = make_flow("flow1", [((), ("Task1",)), (("Task1",), ("Task2",)), (("Task1",), ("Task3",))])
TAINTED_NEW = make_flow("flow1", [((), ("Task1",)), (("Task1",), ("Task2",))])


def test_docs_removed_edge_is_a_tainted_edge() -> None:
    flow_migration = diff_flows(TAINTED_OLD, TAINTED_NEW)
    assert flow_migration is not None
    assert dict(flow_migration.translation) == {2: None}
    assert set(flow_migration.tainted_edges) == {2}
    assert flow_migration.tainted_edges[2].from_ == ("Task1",)
    assert flow_migration.tainted_edges[2].to == ("Task3",)
    assert dict(flow_migration.tainting_nodes) == {}


def test_docs_fired_tainted_edge_taints_the_flow() -> None:
    """Task1 finished, both edges fired: the edge to Task3 no longer exists."""
    before = state(active=["Task2", "Task3"], finished=["Task1"], waiting=[1, 2], triggered=[0, 1, 2])
    outcome = apply_migrations(before, "flow1", 0, [migration_of(TAINTED_OLD, TAINTED_NEW, FAIL)])
    assert outcome.tainted is True
    assert outcome.strategy is FAIL
    assert outcome.version == 1
    assert outcome.new_state["triggered_edges"] == [0, 1]
    assert outcome.new_state["waiting_edges"] == [1]
    (step,) = outcome.steps
    assert set(step.tainted_edges) == {2}
    assert dict(step.translated) == {2: None}
    # the input state is left alone
    assert before["triggered_edges"] == [0, 1, 2]


def test_docs_unfired_tainted_edge_does_not_taint() -> None:
    """Task1 still running: the flow goes on with the new graph."""
    before = state(active=["Task1"], waiting=[1, 2], triggered=[0])
    outcome = apply_migrations(before, "flow1", 0, [migration_of(TAINTED_OLD, TAINTED_NEW, FAIL)])
    assert outcome.tainted is False
    assert outcome.new_state["waiting_edges"] == [1]
    assert outcome.new_state["triggered_edges"] == [0]
    assert outcome.new_state["active_nodes"] == before["active_nodes"]


# --- the documentation's "tainting nodes" example -----------------------------------------------

TAINTING_OLD = make_flow("flow1", [((), ("Task1",)), (("Task1",), ("Task2",))])
TAINTING_NEW = make_flow("flow1", [((), ("Task1",)), (("Task1",), ("Task2",)), (("Task1",), ("Task3",))])


def test_docs_added_edge_gives_tainting_nodes() -> None:
    flow_migration = diff_flows(TAINTING_OLD, TAINTING_NEW)
    assert flow_migration is not None
    assert dict(flow_migration.tainting_nodes) == {2: ("Task1",)}
    assert not flow_migration.tainted_edges
    assert not flow_migration.translation


def test_docs_finished_tainting_nodes_taint_the_flow() -> None:
    before = state(active=["Task2"], finished=["Task1"], waiting=[1], triggered=[0, 1])
    outcome = apply_migrations(before, "flow1", 0, [migration_of(TAINTING_OLD, TAINTING_NEW, RETRY)])
    assert outcome.tainted is True
    assert outcome.strategy is RETRY
    assert dict(outcome.steps[0].tainting_nodes) == {2: ("Task1",)}
    # Task3 is not scheduled backwards: the new edge does not wait
    assert outcome.new_state["waiting_edges"] == [1]


def test_docs_active_tainting_nodes_make_the_new_edge_wait() -> None:
    before = state(active=["Task1"], waiting=[1], triggered=[0])
    outcome = apply_migrations(before, "flow1", 0, [migration_of(TAINTING_OLD, TAINTING_NEW, FAIL)])
    assert outcome.tainted is False
    assert outcome.new_state["waiting_edges"] == [1, 2]
    assert outcome.steps[0].added_waiting_edges == (2,)


def test_new_join_edge_with_one_source_finished_and_one_active_waits() -> None:
    old = make_flow("flow1", [((), ("A", "B"))])
    new = make_flow("flow1", [((), ("A", "B")), (("A", "B"), ("C",))])
    before = state(active=["B"], finished=["A"], triggered=[0])
    outcome = apply_migrations(before, "flow1", 0, [migration_of(old, new)])
    assert outcome.tainted is False
    assert outcome.new_state["waiting_edges"] == [1]


def test_new_edge_whose_sources_have_not_started_is_left_to_the_dispatcher() -> None:
    old = make_flow("flow1", [((), ("A",)), (("A",), ("B",))])
    new = make_flow("flow1", [((), ("A",)), (("A",), ("B",)), (("B",), ("C",))])
    before = state(active=["A"], waiting=[1], triggered=[0])
    outcome = apply_migrations(before, "flow1", 0, [migration_of(old, new)])
    assert outcome.tainted is False
    assert outcome.new_state["waiting_edges"] == [1]


# --- Do better 4: renumbering and changed destinations --------------------------------------------


def test_renumbering_only_is_a_migration_with_its_translation() -> None:
    old = make_flow("flow1", [((), ("A",)), (("A",), ("B",)), (("A",), ("C",))])
    new = make_flow("flow1", [((), ("A",)), (("A",), ("C",)), (("A",), ("B",))])
    flow_migration = diff_flows(old, new)
    assert flow_migration is not None
    assert dict(flow_migration.translation) == {1: 2, 2: 1}
    assert not flow_migration.tainted_edges and not flow_migration.tainting_nodes

    before = state(active=["B"], finished=["A"], waiting=[1, 2], triggered=[0, 1])
    outcome = apply_migrations(before, "flow1", 0, [migration_of(old, new, FAIL)])
    assert outcome.tainted is False
    assert outcome.new_state["waiting_edges"] == [2, 1]
    assert outcome.new_state["triggered_edges"] == [0, 2]


def test_inserting_a_starting_edge_before_others_is_a_migration() -> None:
    old = make_flow("flow1", [((), ("A",)), (("A",), ("B",))])
    new = make_flow("flow1", [((), ("A",)), ((), ("Z",)), (("A",), ("B",))])
    migration = migration_of(old, new)
    assert dict(migration.flows["flow1"].translation) == {1: 2}
    outcome = apply_migrations(state(active=["A"], waiting=[1], triggered=[0]), "flow1", 0, [migration])
    assert outcome.new_state["waiting_edges"] == [2]
    assert outcome.tainted is False


def test_changed_destinations_are_tainted_and_translated_to_the_edge_with_the_same_sources() -> None:
    old = make_flow("flow1", [((), ("A",)), (("A",), ("B",))])
    new = make_flow("flow1", [((), ("A",)), ((), ("Z",)), (("A",), ("B", "C"))])
    flow_migration = diff_flows(old, new)
    assert flow_migration is not None
    assert dict(flow_migration.translation) == {1: 2}
    assert set(flow_migration.tainted_edges) == {1}
    assert dict(flow_migration.tainting_nodes) == {2: ("A",)}

    migration = migration_of(old, new)
    waiting = apply_migrations(state(active=["A"], waiting=[1], triggered=[0]), "flow1", 0, [migration])
    assert waiting.tainted is False
    assert waiting.new_state["waiting_edges"] == [2]  # not silently dropped

    fired_state = state(active=["B"], finished=["A"], waiting=[1], triggered=[0, 1])
    fired = apply_migrations(fired_state, "flow1", 0, [migration])
    assert fired.tainted is True
    assert fired.new_state["triggered_edges"] == [0, 2]


def test_changed_destinations_in_place_keep_the_index() -> None:
    old = make_flow("flow1", [((), ("A",)), (("A",), ("B",))])
    new = make_flow("flow1", [((), ("A",)), (("A",), ("C", "B"))])
    flow_migration = diff_flows(old, new)
    assert flow_migration is not None
    assert dict(flow_migration.translation) == {}
    assert flow_migration.translate(1) == 1
    assert set(flow_migration.tainted_edges) == {1}


def test_from_and_to_are_compared_as_sets_and_conditions_do_not_count() -> None:
    old = make_flow("flow1", [((), ("A", "B")), (("A", "B"), ("C",))])
    new = make_flow(
        "flow1",
        [
            ((), ("B", "A")),
            Edge(index=1, from_=("B", "A"), to=("C",), condition=Predicate(name="alwaysFalse")),
        ],
    )
    assert diff_flows(old, new) is None
    assert generate_migration(make_config(old), make_config(new)) is None


def test_fallback_changes_are_not_migrated() -> None:
    old = make_flow("flow1", [((), ("A",))], failures=[Failure(nodes=frozenset({"A"}), fallback=("F1",))])
    new = make_flow("flow1", [((), ("A",))], failures=[Failure(nodes=frozenset({"A"}), fallback=("F2", "F3"))])
    assert generate_migration(make_config(old), make_config(new), FAIL) is None


def test_generate_writes_only_changed_flows_and_skips_added_or_removed_flows() -> None:
    same = make_flow("same", [((), ("X",))])
    old = make_config(same, TAINTED_OLD, make_flow("gone", [((), ("G",))]))
    new = make_config(same, TAINTED_NEW, make_flow("fresh", [((), ("N",))]))
    migration = generate_migration(old, new, "retry", meta={"user": "me"})
    assert migration is not None
    assert set(migration.flows) == {"flow1"}
    assert migration.tainted_flow_strategy is RETRY
    assert migration.meta is not None and migration.meta["user"] == "me"


# --- Do better 3: removed or renumbered triggered edges under IGNORE ------------------------------


def test_removed_and_renumbered_triggered_edges_work_under_ignore() -> None:
    old = make_flow("flow1", [((), ("A",)), (("A",), ("B",)), (("A",), ("C",)), (("C",), ("D",))])
    new = make_flow("flow1", [((), ("A",)), (("A",), ("C",)), (("C",), ("D",))])
    before = state(active=["B", "C"], finished=["A"], waiting=[1, 2, 3], triggered=[0, 1, 2])
    outcome = apply_migrations(before, "flow1", 4, [migration_of(old, new, IGNORE)])
    assert outcome.tainted is True
    assert outcome.strategy is IGNORE
    assert outcome.version == 5
    assert outcome.new_state["triggered_edges"] == [0, 1]
    assert outcome.new_state["waiting_edges"] == [1, 2]
    assert dict(outcome.steps[0].translated) == {1: None, 2: 1, 3: 2}


# --- chains -------------------------------------------------------------------------------------


def test_chain_is_applied_version_by_version() -> None:
    v0 = make_flow("flow1", [((), ("A",)), (("A",), ("B",))])
    v1 = make_flow("flow1", [((), ("A",)), ((), ("Z",)), (("A",), ("B",))])
    v2 = make_flow("flow1", [((), ("Y",)), ((), ("A",)), ((), ("Z",)), (("A",), ("B",))])
    chain = [migration_of(v0, v1), migration_of(v1, v2)]
    outcome = apply_migrations(state(active=["A"], waiting=[1], triggered=[0]), "flow1", 0, chain)
    assert outcome.new_state["waiting_edges"] == [3]
    assert outcome.new_state["triggered_edges"] == [1]
    assert [step.version for step in outcome.steps] == [1, 2]
    assert outcome.version == 2
    assert outcome.changed is True


@pytest.mark.parametrize(
    ("strategies", "expected"),
    [
        ((IGNORE, FAIL), FAIL),
        ((FAIL, IGNORE), FAIL),
        ((RETRY, IGNORE), RETRY),
        ((IGNORE, RETRY, FAIL, IGNORE), FAIL),
        ((IGNORE, IGNORE), IGNORE),
    ],
)
def test_chained_migrations_use_the_strongest_strategy(
    strategies: tuple[TaintedFlowStrategy, ...], expected: TaintedFlowStrategy
) -> None:
    """Only the first migration taints; later ones change the flow harmlessly."""
    flows = [TAINTED_OLD, TAINTED_NEW]
    for n in range(len(strategies) - 1):
        edges = [*([((), (f"Extra{i}",)) for i in range(n + 1)]), ((), ("Task1",)), (("Task1",), ("Task2",))]
        flows.append(make_flow("flow1", edges))
    chain = [migration_of(a, b, s) for a, b, s in zip(flows[:-1], flows[1:], strategies, strict=True)]
    before = state(active=["Task2", "Task3"], finished=["Task1"], waiting=[1, 2], triggered=[0, 1, 2])
    outcome = apply_migrations(before, "flow1", 0, chain)
    assert outcome.tainted is True
    assert [step.tainted for step in outcome.steps] == [True] + [False] * (len(strategies) - 1)
    assert outcome.strategy is expected


def test_strategy_of_a_migration_that_does_not_change_the_flow_does_not_count() -> None:
    other_old = make_flow("other", [((), ("O1",)), (("O1",), ("O2",))])
    other_new = make_flow("other", [((), ("O1",))])
    fail_for_other = generate_migration(make_config(other_old, TAINTED_OLD), make_config(other_new, TAINTED_OLD), FAIL)
    assert fail_for_other is not None and set(fail_for_other.flows) == {"other"}
    chain = [fail_for_other, migration_of(TAINTED_OLD, TAINTED_NEW, IGNORE)]
    before = state(active=["Task2", "Task3"], finished=["Task1"], waiting=[1, 2], triggered=[0, 1, 2])
    outcome = apply_migrations(before, "flow1", 0, chain)
    assert outcome.tainted is True
    assert outcome.strategy is IGNORE
    assert [step.applied for step in outcome.steps] == [False, True]


def test_a_run_that_has_not_started_is_not_touched() -> None:
    outcome = apply_migrations(state(), "flow1", 0, [migration_of(TAINTED_OLD, TAINTED_NEW, FAIL)])
    assert outcome.tainted is False
    assert outcome.new_state == state()
    assert outcome.version == 1
    assert outcome.changed is False


def test_outcome_details_are_json_ready() -> None:
    before = state(active=["Task2", "Task3"], finished=["Task1"], waiting=[1, 2], triggered=[0, 1, 2])
    outcome = apply_migrations(before, "flow1", 0, [migration_of(TAINTED_OLD, TAINTED_NEW, FAIL)])
    details = json.loads(json.dumps(outcome.to_dict()))
    assert details["tainted"] is True
    assert details["tainted_flow_strategy"] == "FAIL"
    step = details["steps"][0]
    assert step["tainted_edges"] == {"2": {"from": ["Task1"], "to": ["Task3"], "condition_str": {"name": "alwaysTrue"}}}
    assert step["translated_edges"] == {"2": None}


# --- skew and chain selection -------------------------------------------------------------------


def test_message_newer_than_the_worker_is_a_skew() -> None:
    with pytest.raises(MigrationSkew, match="3"):
        check_skew(3, 2)
    check_skew(2, 2)
    check_skew(1, 2)
    check_skew(None, 0)


def test_select_chain_returns_the_missing_versions_in_order() -> None:
    m1, m2, m3 = (migration_of(TAINTED_OLD, TAINTED_NEW, s) for s in (IGNORE, RETRY, FAIL))
    available = {1: m1, 2: m2, 3: m3}
    assert select_chain(available, 1, 3) == [m2, m3]
    assert select_chain(available, 3, 3) == []
    with pytest.raises(MigrationSkew):
        select_chain(available, 4, 3)
    with pytest.raises(MigrationSkew, match="2"):
        select_chain({1: m1, 3: m3}, 0, 3)


# --- N.json files -------------------------------------------------------------------------------

SELINON_FILE = """
{
  "_meta": {"datetime": "2018-01-01 10:00:00", "host": "box", "selinon_version": "1.0.0", "user": "fridex"},
  "migration": {
    "flow1": {
      "tainted_edges": {
        "2": {"condition_str": {"name": "alwaysTrue"}, "from": ["Task1"], "to": ["Task3"]}
      },
      "tainting_nodes": {"3": ["Task4", "Task1"]},
      "translation": {"2": null, "3": 2}
    }
  },
  "tainted_flow_strategy": "RETRY"
}
"""


def test_reads_a_selinon_migration_file() -> None:
    migration = migration_from_json(SELINON_FILE)
    assert migration.tainted_flow_strategy is RETRY
    assert migration.meta is not None and migration.meta["user"] == "fridex"
    flow = migration.flows["flow1"]
    assert dict(flow.translation) == {2: None, 3: 2}
    assert flow.translate(0) == 0 and flow.translate(2) is None and flow.translate(3) == 2
    assert flow.tainted_edges[2].to == ("Task3",)
    assert dict(flow.tainting_nodes) == {3: ("Task1", "Task4")}


def test_json_round_trip_with_and_without_meta() -> None:
    migration = migration_from_json(SELINON_FILE)
    assert migration_from_json(migration_to_json(migration)) == migration
    text = migration_to_json(migration, include_meta=False)
    data = json.loads(text)
    assert "_meta" not in data
    assert set(data) == {"migration", "tainted_flow_strategy"}
    assert data["migration"]["flow1"]["translation"] == {"2": None, "3": 2}
    assert migration_from_json(data).same_changes(migration)


def test_generated_migration_is_written_in_selinon_shape() -> None:
    data = json.loads(migration_to_json(migration_of(TAINTED_OLD, TAINTED_NEW, FAIL)))
    assert data == {
        "migration": {
            "flow1": {
                "translation": {"2": None},
                "tainted_edges": {"2": {"from": ["Task1"], "to": ["Task3"], "condition_str": {"name": "alwaysTrue"}}},
                "tainting_nodes": {},
            }
        },
        "tainted_flow_strategy": "FAIL",
    }


def test_same_changes_ignores_strategy_and_meta() -> None:
    first = migration_of(TAINTED_OLD, TAINTED_NEW, IGNORE)
    second = Migration(flows=first.flows, tainted_flow_strategy=FAIL, meta=MappingProxyType({"user": "x"}))
    assert first.same_changes(second)
    other = migration_of(TAINTING_OLD, TAINTING_NEW)
    assert not first.same_changes(other)
    assert not first.same_changes(Migration(flows=MappingProxyType({"flow1": FlowMigration()})))


def test_bad_migration_content_is_refused() -> None:
    with pytest.raises(ValueError, match="migration"):
        migration_from_json("{}")
    with pytest.raises(ValueError, match="strategy"):
        migration_from_json({"migration": {}, "tainted_flow_strategy": "PANIC"})


def test_migration_file_names() -> None:
    assert migration_file_name(3) == "3.json"
    with pytest.raises(ValueError):
        migration_file_name(0)
    assert parse_migration_file_name("12.json") == 12
    for name in (".1.json", "1.yaml", "x.json", "1.json~"):
        assert parse_migration_file_name(name) is None


def test_strategy_parsing_and_order() -> None:
    assert TaintedFlowStrategy.parse("fail") is FAIL
    assert TaintedFlowStrategy.strongest([]) is IGNORE
    assert IGNORE.rank < RETRY.rank < FAIL.rank
