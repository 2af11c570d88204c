"""The beyond-Selinon condition syntax ``node: flow2/Task5`` is checked at load time."""
from __future__ import annotations

import pytest

from selinon_django.config import ConfigurationError, SourceFile, load_config_from_sources

TEMPLATE = """
tasks:
  - {name: A, import: app.tasks, storage: S}
  - {name: Inner, import: app.tasks, storage: S}
  - {name: NoStore, import: app.tasks}
  - {name: Z, import: app.tasks}
storages:
  - {name: S, import: selinon.storages.memory, classname: InMemoryStorage}
flows: [outer, middle, inner]
flow-definitions:
  - name: outer
    edges:
      - {from: , to: A}
      - {from: A, to: middle}
      - from: middle
        to: Z
        condition: {name: fieldEqual, node: '%s', args: {key: ok, value: true}}
  - name: middle
    edges:
      - {from: , to: inner}
  - name: inner
    edges:
      - {from: , to: Inner}
      - {from: Inner, to: NoStore}
"""


def _load(path: str) -> object:
    return load_config_from_sources([SourceFile(path="all.yaml", role="nodes", text=TEMPLATE % path)])


def test_nested_subflow_result_path_loads() -> None:
    config = _load("middle/inner/Inner")
    edge = config.flows["outer"].edges[2]  # type: ignore[attr-defined]
    assert edge.condition.node == "middle/inner/Inner"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("A/Inner", "node 'A' (first part of 'A/Inner') is not a source of this edge"),
        ("middle/Inner", "'Inner' in 'middle/Inner' is not a node of flow 'middle'"),
        ("middle/inner/Nope", "'Nope' in 'middle/inner/Nope' is not a node of flow 'inner'"),
        ("middle/inner/NoStore", "reads the result of task 'NoStore', which has no storage"),
        ("middle/inner", "cannot read the result of flow 'inner'"),
        ("middle//Inner", "not a valid sub-flow result path"),
    ],
)
def test_invalid_subflow_result_paths(path: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        _load(path)
    text = str(caught.value)
    assert "all.yaml: flow-definitions[0].edges[2].condition" in text
    assert message in text
