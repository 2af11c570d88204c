"""Migrations generated from two versions of real YAML (the documentation's examples), end to end."""
from __future__ import annotations

from selinon_django.config import SourceFile, load_config_from_sources
from selinon_django.config.model import SystemConfig
from selinon_django.engine.migration_plan import generate_migration
from selinon_django.engine.migrations import (
    TaintedFlowStrategy,
    apply_migrations,
    migration_from_json,
    migration_to_json,
)

NODES = """
tasks:
  - name: Task1
    import: myproject.tasks
  - name: Task2
    import: myproject.tasks
  - name: Task3
    import: myproject.tasks
flows:
  - flow1
"""

V1 = """
flow-definitions:
  - name: flow1
    edges:
      - from:
        to: Task1
      - from: Task1
        to: Task2
"""

# Task3 added after Task1 (the "tainting nodes" example), with a condition and a fallback.
V2 = """
flow-definitions:
  - name: flow1
    edges:
      - from:
        to: Task1
      - from: Task1
        to: Task2
      - from: Task1
        to: Task3
        condition:
          name: argsFieldExist
          args:
            key: foo
    failures:
      - nodes: Task2
        fallback: Task3
"""

# The condition changed and the edge to Task2 moved behind the edge to Task3.
V3 = """
flow-definitions:
  - name: flow1
    edges:
      - from:
        to: Task1
      - from: Task1
        to: Task3
      - from: Task1
        to: Task2
        condition:
          name: alwaysFalse
"""


def load(flows: str) -> SystemConfig:
    sources = [SourceFile("nodes.yaml", "nodes", NODES), SourceFile("flows.yaml", "flows", flows)]
    return load_config_from_sources(sources)


def test_chain_from_yaml_written_and_read_back_as_files() -> None:
    first = generate_migration(load(V1), load(V2), TaintedFlowStrategy.IGNORE)
    second = generate_migration(load(V2), load(V3), TaintedFlowStrategy.RETRY)
    assert first is not None and second is not None
    assert dict(first.flows["flow1"].tainting_nodes) == {2: ("Task1",)}
    assert dict(second.flows["flow1"].translation) == {1: 2, 2: 1}
    assert not second.flows["flow1"].tainted_edges and not second.flows["flow1"].tainting_nodes

    chain = [migration_from_json(migration_to_json(m)) for m in (first, second)]
    running = {
        "active_nodes": [{"name": "Task1", "id": "t1"}],
        "finished_nodes": {},
        "failed_nodes": {},
        "waiting_edges": [1],
        "triggered_edges": [0],
    }
    outcome = apply_migrations(running, "flow1", 0, chain)
    assert outcome.tainted is False
    assert outcome.strategy is TaintedFlowStrategy.RETRY
    # edge to Task2 (was 1, now 2) and the added edge to Task3 (added as 2, now 1) both wait
    assert outcome.new_state["waiting_edges"] == [2, 1]


def test_condition_only_change_needs_no_migration() -> None:
    changed_condition = V3.replace("name: alwaysFalse", "name: alwaysTrue")
    assert generate_migration(load(V3), load(changed_condition)) is None
