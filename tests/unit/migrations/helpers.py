"""The documentation's flows (flow1 with Task1..Task3) in the versions the migration tests use."""
from __future__ import annotations

from pathlib import Path

from selinon_django.config import SourceFile, load_config_from_sources
from selinon_django.config.model import SystemConfig

NODES = """
tasks:
  - name: Task1
    import: tests.unit.migrations.tasks
  - name: Task2
    import: tests.unit.migrations.tasks
  - name: Task3
    import: tests.unit.migrations.tasks
  - name: Task4
    import: tests.unit.migrations.tasks
flows:
  - flow1
"""

#: Task1 then Task2 and Task3 (the "tainted edges" figure before the change)
BOTH = """
flow-definitions:
  - name: flow1
    edges:
      - from:
        to: Task1
      - from: Task1
        to: Task2
      - from: Task1
        to: Task3
"""

#: Task1 then Task2 (the "tainted edges" figure after, the "tainting nodes" figure before)
ONLY_TASK2 = """
flow-definitions:
  - name: flow1
    edges:
      - from:
        to: Task1
      - from: Task1
        to: Task2
"""

#: ONLY_TASK2 with a condition and a fallback: no edge's from/to changed
ONLY_TASK2_CONDITION = """
flow-definitions:
  - name: flow1
    edges:
      - from:
        to: Task1
      - from: Task1
        to: Task2
        condition:
          name: alwaysTrue
    failures:
      - nodes: Task2
        fallback: Task4
"""

#: Task1 then Task3 only (the edge to Task2 removed)
ONLY_TASK3 = """
flow-definitions:
  - name: flow1
    edges:
      - from:
        to: Task1
      - from: Task1
        to: Task3
"""


def config(flows: str, nodes: str = NODES) -> SystemConfig:
    sources = [SourceFile("nodes.yaml", "nodes", nodes), SourceFile("flows.yaml", "flows", flows)]
    return load_config_from_sources(sources)


def write(directory: Path, flows: str, nodes: str = NODES) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "nodes.yaml").write_text(nodes)
    (directory / "flows.yaml").write_text(flows)
    return directory / "nodes.yaml", directory / "flows.yaml"
