"""Every configuration example of the documentation (completed where it was a fragment) loads."""
from __future__ import annotations

from pathlib import Path

import pytest

from selinon_django.config import content_hash, export_yaml, load_config, load_config_from_sources
from selinon_django.config.model import SourceFile

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "config"
DOCS = FIXTURES / "docs"
EXAMPLES = Path("/work/shared/examples")
ENVIRON = {"DEPLOYMENT_PREFIX": "testing", "SENTRY_DSN": "http://key@sentry:9000/2"}

SINGLE_FILES = sorted(DOCS.glob("*.yaml"))


def _round_trip_hash(config_hash: str, exported: dict[str, str]) -> str:
    def role(name: str) -> str:
        return "nodes" if name == "nodes.yaml" else "flows" if name == "flows.yaml" else "schema"

    sources = [SourceFile(name, role(name), text) for name, text in exported.items()]  # type: ignore[arg-type]
    return content_hash(load_config_from_sources(sources, environ=ENVIRON))


@pytest.mark.parametrize("file", SINGLE_FILES, ids=[f.name for f in SINGLE_FILES])
def test_docs_example_loads_and_round_trips(file: Path) -> None:
    config = load_config([file], [], environ=ENVIRON)
    assert config.sources[0].text == file.read_text()
    digest = content_hash(config)
    assert _round_trip_hash(digest, export_yaml(config)) == digest


def test_intro_example_split_over_nodes_file_and_a_directory_of_flows() -> None:
    config = load_config([DOCS / "intro" / "nodes.yaml"], [DOCS / "intro"], environ={})
    assert sorted(config.flows) == ["flow1", "flow2"]
    # nodes.yaml sits in the directory too: it is read once, not twice
    assert [Path(s.path).name for s in config.sources] == ["nodes.yaml", "flow1.yaml", "flow2.yaml"]
    flow1 = config.flows["flow1"]
    assert [edge.to for edge in flow1.edges] == [("Task1",), ("Task2", "flow2"), ("Task3",), ("Task1",)]
    assert config.tasks["Task2"].classname == "MyTask2"
    assert config.tasks["Task1"].classname == "Task1"


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="shared examples not present")
@pytest.mark.parametrize("example", ["docs_flow1", "fallback_in_subflow", "foreach_subflows"])
def test_shared_examples_load(example: str) -> None:
    config = load_config([EXAMPLES / example / "nodes.yaml"], [EXAMPLES / example / "flows.yaml"], environ={})
    memory = config.storages["Memory"]
    assert (memory.module, memory.classname) == ("selinon_django.storages.memory", "InMemoryStorage")
    digest = content_hash(config)
    assert _round_trip_hash(digest, export_yaml(config)) == digest


def test_documented_values_are_parsed() -> None:
    task = load_config([DOCS / "task_all_keys.yaml"], [], environ={}).tasks["MyTask1"]
    assert (task.classname, task.max_retry, task.retry_countdown) == ("MyTask1Class", 5, 120)
    assert task.storage_task_name == "MyTaskOne"
    assert task.storage_name_for_results == "MyTaskOne"
    assert task.selective_run_function is not None
    assert task.selective_run_function.dotted == "myapp.selective.my_selective_function"
    assert (task.queue, task.throttling) == ("my_task1_queue", 10)

    throttled = load_config([DOCS / "throttling.yaml"], [], environ={})
    assert throttled.flows["flow1"].throttling == 30 * 60 + 10
    assert throttled.dispatcher_queue("flow1") == "flow1_v0"

    flow = load_config([DOCS / "flow_all_keys.yaml"], [], environ={}).flows["flow1"]
    assert flow.propagate_parent == frozenset({"flow2"})
    assert flow.eager_failures == frozenset({"Task2"})
    assert (flow.sampling.name, dict(flow.sampling.args)) == ("constant", {"retry": 10})
    assert flow.sampling.module == "selinon_django.strategies"
    assert flow.cache is not None and flow.cache.configuration["size"] == 10
    foreach = flow.edges[3].foreach
    assert foreach is not None and foreach.function.dotted == "myapp.foreach.iter_foreach"

    caches = load_config([DOCS / "caches.yaml"], [], environ={})
    task_cache = caches.tasks["Task1"].cache
    assert task_cache is not None and task_cache.configuration["host"] == "mongo"  # last duplicate key wins


def test_trace_entries() -> None:
    config = load_config([DOCS / "trace.yaml"], [], environ=ENVIRON)
    kinds = [entry.kind for entry in config.global_config.trace]
    assert kinds == ["logging", "function", "storage", "sentry", "json"]
    sentry = config.global_config.trace[3]
    assert sentry.options["dsn"] == ENVIRON["SENTRY_DSN"]
    assert sentry.options_template["dsn"] == "{SENTRY_DSN}"


def test_predicates_module_written_with_selinon_name_resolves_here() -> None:
    config = load_config([DOCS / "global_section.yaml"], [], environ=ENVIRON)
    assert config.global_config.predicates_module == "selinon_django.predicates"
    assert config.global_config.predicates_module_written == "selinon.predicates"
    assert config.task_queue("Task1") == "testing_tasks"
    assert config.dispatcher_queue("flow1") == "testing_dispatcher"
