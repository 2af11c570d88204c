"""normalise(), content_hash(), export_yaml() and config_from_normalised()."""
from __future__ import annotations

import json

import yaml

from selinon_django.config import (
    SourceFile,
    config_from_normalised,
    content_hash,
    export_yaml,
    load_config_from_sources,
    normalise,
)
from selinon_django.config.model import SystemConfig

BASE = """
tasks:
  - {name: A, import: m.tasks, storage: S, queue: '{PREFIX}_a'}
  - {name: B, import: m.tasks, classname: B, max_retry: 0}
  - {name: C, import: m.tasks}
storages:
  - {name: S, import: selinon.storages.memory, classname: InMemoryStorage, configuration: {echo: false}}
flows: [main, sub]
flow-definitions:
  - name: main
    propagate_parent: [sub]
    edges:
      - {from: , to: A}
      - {from: A, to: [B, sub], condition: {name: fieldEqual, args: {key: [x, y], value: 1}}}
      - {from: [B, sub], to: C}
    failures:
      - {nodes: [B, C], fallback: true}
      - {nodes: A, fallback: [C]}
  - name: sub
    edges:
      - {from: , to: C}
"""

# the same configuration with every order and spelling that carries no meaning changed
REORDERED = """
flows: [sub, main]
flow-definitions:
  - name: sub
    edges:
      - {to: C, from: }
  - edges:
      - {from: , to: A}
      - {condition: {args: {value: 1, key: [x, y]}, name: fieldEqual}, to: [B, sub], from: A}
      - {from: [B, sub], to: C}
    failures:
      - {nodes: A, fallback: C}
      - {nodes: [C, B], fallback: true}
    name: main
    propagate_parent: sub
    sampling: {name: biexponential_increase, import: selinon.strategies, args: {max_retry: 120, start_retry: 2}}
storages:
  - {configuration: {echo: false}, name: S, classname: InMemoryStorage, import: selinon.storages.memory}
tasks:
  - {name: C, import: m.tasks, throttling: {seconds: 0}}
  - {import: m.tasks, name: B}
  - {queue: '{PREFIX}_a', storage: S, import: m.tasks, name: A, storage_read_only: false}
global:
  predicates_module: selinon.predicates
  default_task_queue: celery
"""


def _load(text: str, environ: dict[str, str] | None = None) -> SystemConfig:
    return load_config_from_sources([SourceFile("all.yaml", "nodes", text)], environ=environ or {"PREFIX": "p"})


def test_normalised_data_is_json_and_valid_selinon_yaml_data() -> None:
    config = _load(BASE)
    data = normalise(config)
    assert list(data) == ["tasks", "storages", "flows", "global", "flow-definitions"]
    assert json.loads(json.dumps(data)) == data
    again = config_from_normalised(data, environ={"PREFIX": "p"})
    assert normalise(again) == data
    assert again.tasks["A"].queue == "p_a"


def test_hash_ignores_order_spelling_and_explicit_defaults() -> None:
    assert content_hash(_load(BASE)) == content_hash(_load(REORDERED))
    assert normalise(_load(BASE)) == normalise(_load(REORDERED))


def test_hash_keeps_templates_not_environment() -> None:
    first, second = _load(BASE, {"PREFIX": "dev"}), _load(BASE, {"PREFIX": "prod"})
    assert first.tasks["A"].queue != second.tasks["A"].queue
    assert content_hash(first) == content_hash(second)
    assert normalise(first)["tasks"][0]["queue"] == "{PREFIX}_a"


def test_edge_order_is_identity() -> None:
    swapped = BASE.replace(
        "      - {from: , to: A}\n      - {from: A, to: [B, sub]",
        "      - {from: A, to: [B, sub]",
    ).replace("      - {from: [B, sub], to: C}\n", "      - {from: [B, sub], to: C}\n      - {from: , to: A}\n", 1)
    assert _load(swapped).flows["main"].edges[2].is_starting
    assert content_hash(_load(swapped)) != content_hash(_load(BASE))


def test_meaningful_changes_change_the_hash() -> None:
    base = content_hash(_load(BASE))
    for before, after in [
        ("value: 1", "value: 2"),
        ("max_retry: 0", "max_retry: 1"),
        ("to: [B, sub]", "to: [sub, B]"),
        ("fallback: true", "fallback: [A]"),
        ("{echo: false}", "{echo: true}"),
    ]:
        assert before in BASE
        assert content_hash(_load(BASE.replace(before, after))) != base, (before, after)


def test_export_loads_back_to_the_same_hash() -> None:
    config = _load(BASE)
    files = export_yaml(config)
    assert set(files) == {"nodes.yaml", "flows.yaml"}
    assert "flow-definitions" in yaml.safe_load(files["flows.yaml"])
    assert "flow-definitions" not in yaml.safe_load(files["nodes.yaml"])
    sources = [SourceFile(name, "nodes" if name == "nodes.yaml" else "flows", text) for name, text in files.items()]
    assert content_hash(load_config_from_sources(sources, environ={"PREFIX": "other"})) == content_hash(config)
    assert content_hash(config) in files["nodes.yaml"]
