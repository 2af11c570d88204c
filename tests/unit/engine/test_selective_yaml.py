"""Selective plans computed from the documentation's YAML, loaded by the real configuration loader."""
from __future__ import annotations

import json

import pytest

from selinon_django.config import SourceFile, load_config_from_sources
from selinon_django.config.model import SystemConfig
from selinon_django.engine.selective import compute_selective, plan_for_selective_edge
from selinon_django.engine.selective_plan import SelectivePlan
from selinon_django.errors import SelectiveNoPathError

NODES = """
tasks:
  - name: 'Task1'
    import: 'myproject.tasks'
  - name: 'Task2'
    import: 'myproject.tasks'
  - name: 'Task3'
    import: 'myproject.tasks'
  - name: 'Task4'
    import: 'myproject.tasks'
flows:
  - 'selective_flow1'
  - 'selective_flow2'
"""

FLOWS = """
flow-definitions:
  - name: 'selective_flow1'
    edges:
      - from:
        to: 'Task1'
      - from: 'Task1'
        to:
          - 'Task2'
          - 'Task3'
  - name: 'selective_flow2'
    edges:
      - from:
        to: 'Task4'
      - from: 'Task4'
        to: 'selective_flow1'
        selective:
          tasks:
            - 'Task2'
          follow_subflows: false
          run_subsequent: false
"""


@pytest.fixture(scope="module")
def config() -> SystemConfig:
    sources = [SourceFile("nodes.yaml", "nodes", NODES), SourceFile("flows.yaml", "flows", FLOWS)]
    return load_config_from_sources(sources)


def test_run_flow_selective_task2(config: SystemConfig) -> None:
    plan = compute_selective(config, "selective_flow1", ["Task2"])
    assert plan.to_dict() == {
        "task_names": ["Task2"],
        "follow_subflows": False,
        "run_subsequent": False,
        "flows": {"selective_flow1": {"edges": {"0": ["Task1"], "1": ["Task2"]}, "subsequent_edges": []}},
    }


def test_selective_flow2_with_follow_subflows_matches_the_yaml_selective_edge(config: SystemConfig) -> None:
    followed = compute_selective(config, "selective_flow2", ["Task2"], follow_subflows=True)
    edge_plan = plan_for_selective_edge(config, config.flows["selective_flow2"].edges[1])
    flow1_followed = followed.for_flow("selective_flow1")
    flow1_edge = edge_plan.for_flow("selective_flow1")
    assert flow1_followed is not None and flow1_edge is not None
    assert flow1_followed == flow1_edge
    # the plan travels in a message: JSON and back
    assert SelectivePlan.from_dict(json.loads(json.dumps(followed.to_dict()))) == followed


def test_task4_is_not_in_selective_flow1(config: SystemConfig) -> None:
    with pytest.raises(SelectiveNoPathError):
        compute_selective(config, "selective_flow1", ["Task4"], follow_subflows=True)
