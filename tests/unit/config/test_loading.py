"""Loading mechanics: several files, directories, anchors, environment expansion, file errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from selinon_django.config import ConfigurationError, SourceFile, load_config, load_config_from_sources

NODES = """
tasks:
  - &base {name: A, import: myapp.tasks, queue: '{PREFIX}_a', max_retry: 2}
  - {<<: *base, name: B, queue: plain}
storages:
  - {name: S, import: myapp.storages, configuration: {host: '{DB_HOST}', port: 5432, literal: '{{not a var}}'}}
flows: [f, g]
global:
  default_task_queue: '{PREFIX}_default'
  migration_dir: '{MIGRATIONS}/dir'
"""
FLOW_F = """
flow-definitions:
  - name: f
    queue: '{PREFIX}_dispatch'
    edges:
      - {from: , to: A}
      - {from: A, to: g}
"""
FLOW_G = """
flow-definitions:
  - name: g
    edges:
      - {from: , to: B}
"""
ENVIRON = {"PREFIX": "prod", "DB_HOST": "db.local", "MIGRATIONS": "/srv"}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_merge_keys_and_environment_expansion(tmp_path: Path) -> None:
    nodes = _write(tmp_path, "nodes.yaml", NODES)
    flows = [_write(tmp_path, "f.yaml", FLOW_F), _write(tmp_path, "g.yml", FLOW_G)]
    config = load_config([nodes], flows, environ=ENVIRON)
    a, b = config.tasks["A"], config.tasks["B"]
    assert (a.queue, a.queue_template) == ("prod_a", "{PREFIX}_a")
    assert (b.queue, b.max_retry, b.module) == ("plain", 2, "myapp.tasks")  # merged from the anchor
    storage = config.storages["S"]
    # storage configuration reaches the adapter as Selinon hands it over: only set {VARS} replaced
    assert dict(storage.configuration) == {"host": "db.local", "port": 5432, "literal": "{{not a var}}"}
    assert storage.configuration_template["host"] == "{DB_HOST}"
    assert config.global_config.default_task_queue == "prod_default"
    assert config.task_queue("B") == "plain"
    assert config.global_config.migration_dir == "/srv/dir"
    assert config.dispatcher_queue("f") == "prod_dispatch"
    assert config.dispatcher_queue("g") == "celery"


def test_flows_directory_is_read_in_name_order_and_ignores_other_files(tmp_path: Path) -> None:
    nodes = _write(tmp_path, "nodes.yaml", NODES)
    _write(tmp_path, "flows/20-g.yml", FLOW_G)
    _write(tmp_path, "flows/10-f.yaml", FLOW_F)
    _write(tmp_path, "flows/README.txt", "not yaml: [")
    config = load_config([nodes], [tmp_path / "flows"], environ=ENVIRON)
    assert [Path(s.path).name for s in config.sources] == ["nodes.yaml", "10-f.yaml", "20-g.yml"]
    assert [s.role for s in config.sources] == ["nodes", "flows", "flows"]


def test_one_file_holding_everything_may_be_given_as_nodes_and_flows(tmp_path: Path) -> None:
    single = _write(tmp_path, "all.yaml", NODES + FLOW_F + FLOW_G.replace("flow-definitions:\n", ""))
    config = load_config([single], [single], environ=ENVIRON)
    assert sorted(config.flows) == ["f", "g"]
    assert len(config.sources) == 1


def test_missing_variables_are_all_named(tmp_path: Path) -> None:
    nodes = _write(tmp_path, "nodes.yaml", NODES)
    with pytest.raises(ConfigurationError) as caught:
        load_config([nodes], [_write(tmp_path, "f.yaml", FLOW_F), _write(tmp_path, "g.yaml", FLOW_G)], environ={})
    rendered = [str(issue) for issue in caught.value.issues]
    assert any("tasks[0].queue: environment variable 'PREFIX' not set" in line for line in rendered)
    # an unset variable in storage configuration is the worker's to resolve (not an error)
    assert not any("storages[0]" in line for line in rendered)
    assert any("global.migration_dir: environment variable 'MIGRATIONS' not set" in line for line in rendered)
    assert any(line.startswith(str(tmp_path / "f.yaml")) and "flow-definitions[0].queue" in line for line in rendered)


def test_problems_in_several_files_are_reported_together(tmp_path: Path) -> None:
    nodes = _write(tmp_path, "nodes.yaml", NODES.replace("import: myapp.storages", "import: myapp.storages, bad: 1"))
    flows = _write(tmp_path, "f.yaml", FLOW_F.replace("to: g", "to: g, when: x"))
    with pytest.raises(ConfigurationError) as caught:
        load_config([nodes], [flows], environ=ENVIRON)
    places = {(Path(issue.file).name, issue.path) for issue in caught.value.issues}
    assert places == {("nodes.yaml", "storages[0]"), ("f.yaml", "flow-definitions[0].edges[1]")}


def test_issues_carry_the_line(tmp_path: Path) -> None:
    flows = _write(tmp_path, "f.yaml", FLOW_F.replace("{from: A, to: g}", "{from: A, to: Nope}"))
    with pytest.raises(ConfigurationError) as caught:
        nodes = _write(tmp_path, "nodes.yaml", NODES)
        load_config([nodes], [flows, _write(tmp_path, "g.yaml", FLOW_G)], environ=ENVIRON)
    issue = next(i for i in caught.value.issues if "Nope" in i.message)
    assert issue.path == "flow-definitions[0].edges[1].to"
    assert issue.message.endswith("(line 7)")


def test_global_key_set_in_two_files(tmp_path: Path) -> None:
    nodes = _write(tmp_path, "nodes.yaml", NODES)
    flows = _write(tmp_path, "f.yaml", FLOW_F + "global:\n  default_task_queue: other\n")
    with pytest.raises(ConfigurationError) as caught:
        load_config([nodes], [flows, _write(tmp_path, "g.yaml", FLOW_G)], environ=ENVIRON)
    (issue,) = caught.value.issues
    assert (Path(issue.file).name, issue.path) == ("f.yaml", "global.default_task_queue")
    assert "already set in" in issue.message


def test_flow_defined_in_two_files(tmp_path: Path) -> None:
    nodes = _write(tmp_path, "nodes.yaml", NODES)
    with pytest.raises(ConfigurationError) as caught:
        load_config(
            [nodes],
            [_write(tmp_path, n, t) for n, t in (("f.yaml", FLOW_F), ("g.yaml", FLOW_G), ("g2.yaml", FLOW_G))],
            environ=ENVIRON,
        )
    (issue,) = caught.value.issues
    assert Path(issue.file).name == "g2.yaml"
    assert "flow 'g' is defined twice" in issue.message


def test_missing_file_and_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigurationError) as caught:
        load_config([tmp_path / "nope.yaml"], [tmp_path / "empty"])
    messages = {(Path(i.file).name, i.message) for i in caught.value.issues}
    assert messages == {("nope.yaml", "file not found"), ("empty", "directory holds no *.yaml or *.yml file")}


def test_unsafe_yaml_tags_are_refused() -> None:
    source = SourceFile("evil.yaml", "nodes", "tasks: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigurationError) as caught:
        load_config_from_sources([source])
    assert caught.value.issues[0].file == "evil.yaml"
    assert "invalid YAML" in caught.value.issues[0].message


def test_accepted_spellings_and_extensions() -> None:
    text = """
tasks:
  - {name: A, import: m, storage: S, storage_readonly: true, selective_run_function: {name: fn, import: m.sel}}
  - {name: B, import: m, time_limit: 30, soft_time_limit: 20, rate_limit: 10/m, priority: 3}
  - {name: C, import: m, rate_limit: 5, throttling: {minutes: 1, milliseconds: 500}}
storages: [{name: S, import: m}]
flows: [f]
flow-definitions:
  - name: f
    queue: fq
    eager_failures: true
    propagate_node_args: true
    nowait: C
    edges:
      - {from: [], to: [A, B, C]}
    failures:
      - {nodes: [A, B], fallback: true}
"""
    config = load_config_from_sources([SourceFile("all.yaml", "nodes", text)], environ={})
    a, b, c = (config.tasks[n] for n in "ABC")
    assert a.storage_read_only is True
    assert a.selective_run_function is not None and a.selective_run_function.name == "fn"
    assert (b.time_limit, b.soft_time_limit, b.rate_limit, b.priority) == (30, 20, "10/m", 3)
    assert (c.rate_limit, c.throttling) == ("5", 60.5)
    flow = config.flows["f"]
    assert flow.eager_failures is True and flow.propagate_node_args is True
    assert flow.nowait == frozenset({"C"})
    assert flow.failures[0].fallback is True
    assert flow.edges[0].is_starting
    assert flow.sampling.default and flow.sampling.name == "biexponential_increase"
    assert dict(flow.sampling.args) == {"start_retry": 2, "max_retry": 120}


def test_a_storage_may_carry_a_tasks_name_but_names_stay_unique_per_space(tmp_path: Path) -> None:
    """Storages have a name space of their own (REFERENCE-BEHAVIOUR.md: the reference accepts it)."""
    nodes = _write(tmp_path, "nodes.yaml", """
tasks:
  - {name: Fetch, import: myapp.tasks, storage: Fetch}
storages:
  - {name: Fetch, import: selinon_django.storages.memory, classname: InMemoryStorage}
flows: [f]
flow-definitions:
  - name: f
    edges:
      - {from: , to: Fetch}
""")
    config = load_config([nodes], [], environ={})
    assert config.tasks["Fetch"].storage == "Fetch" and "Fetch" in config.storages
    twice = _write(tmp_path, "twice.yaml", nodes.read_text().replace(
        "classname: InMemoryStorage}", "classname: InMemoryStorage}\n  - {name: Fetch, import: x, classname: Y}"))
    with pytest.raises(ConfigurationError, match="storage 'Fetch' is defined twice"):
        load_config([twice], [], environ={})


def test_a_schema_that_cannot_be_had_refuses_the_configuration_unless_only_the_graph_is_wanted() -> None:
    text = """
tasks:
  - {name: A, import: myapp.tasks, output_schema: schemas/a.json}
flows: [f]
flow-definitions:
  - name: f
    edges:
      - {from: , to: A}
"""
    sources = [SourceFile("nodes.yaml", "nodes", text)]
    with pytest.raises(ConfigurationError, match=r"output schema 'schemas/a\.json'"):
        load_config_from_sources(sources)
    graph_only = load_config_from_sources(sources, require_schemas=False)  # e.g. selinon_migrate --git
    assert graph_only.tasks["A"].output_schema_document is None
    assert graph_only.flows["f"].edges[0].to == ("A",)
