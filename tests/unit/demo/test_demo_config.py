"""The demo configuration: it loads, uses every feature it claims to, and names importable code."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from django.conf import settings

from demo_project.tasks import catalog
from selinon_django.config import (
    ConfigurationError,
    check_imports,
    content_hash,
    disallowed_imports,
    export_yaml,
    load_config,
)
from selinon_django.config.model import And, Condition, Flow, Not, Or, Predicate, SystemConfig, thaw
from tests.unit.demo.conftest import DEMO_ENV, FLOW_FILES, NODES


def leaves(condition: Condition) -> Iterator[Predicate]:
    if isinstance(condition, Predicate):
        yield condition
    elif isinstance(condition, (And, Or)):
        for child in condition.children:
            yield from leaves(child)
    else:
        yield from leaves(condition.child)


def operators(condition: Condition) -> set[str]:
    found: set[str] = set()
    if isinstance(condition, (And, Or)):
        found.add(type(condition).__name__)
        for child in condition.children:
            found |= operators(child)
    elif isinstance(condition, Not):
        found |= {"Not", *operators(condition.child)}
    return found


def all_conditions(config: SystemConfig) -> Iterator[Condition]:
    for flow in config.flows.values():
        for edge in flow.edges:
            yield edge.condition
        for failure in flow.failures:
            yield failure.condition


def subflow_depth(config: SystemConfig, flow_name: str, seen: frozenset[str] = frozenset()) -> int:
    """How many flow levels a run of ``flow_name`` goes down (1: no sub-flows)."""
    children = {n for n in config.flows[flow_name].nodes() if config.is_flow(n)} - seen - {flow_name}
    return 1 + max((subflow_depth(config, c, seen | {flow_name}) for c in children), default=0)


def test_size_of_the_pipeline(demo_config: SystemConfig) -> None:
    assert len(demo_config.tasks) >= 30
    assert len(demo_config.flows) >= 15
    assert {source.role for source in demo_config.sources} == {"nodes", "flows"}
    assert len([s for s in demo_config.sources if s.role == "flows"]) >= 3  # a directory of flow files


def test_every_named_object_imports(demo_config: SystemConfig) -> None:
    assert check_imports(demo_config) == []


def test_imports_are_inside_the_demo_settings_allowed_prefixes(demo_config: SystemConfig) -> None:
    assert disallowed_imports(demo_config, settings.SELINON_DJANGO["IMPORT_PREFIXES"]) == []


def test_every_task_and_flow_is_used(demo_config: SystemConfig) -> None:
    used = set().union(*(flow.nodes() for flow in demo_config.flows.values()))
    assert set(demo_config.tasks) - used == set()
    top_level = {"demo_main", "ingest_batch", "analyze_package_priority"} | {
        name for name in demo_config.flows if name.startswith("feature_")
    }
    assert set(demo_config.flows) - used == top_level


def test_queues_come_from_the_environment(demo_config: SystemConfig) -> None:
    assert demo_config.global_config.default_task_queue == "demo_tasks"
    assert demo_config.global_config.default_task_queue_template == "{DEMO_QUEUE_PREFIX}_tasks"
    assert demo_config.global_config.default_dispatcher_queue == "demo_dispatcher"
    assert demo_config.task_queue("SecurityScan") == "demo_security"
    assert demo_config.tasks["SecurityScan"].queue_template == "{DEMO_QUEUE_PREFIX}_security"
    assert demo_config.task_queue("FetchMetadata") == "demo_tasks"
    assert demo_config.dispatcher_queue("analyze_package_priority") == "demo_priority"
    assert demo_config.dispatcher_queue("demo_main") == "demo_dispatcher"
    queues = {demo_config.task_queue(t) for t in demo_config.tasks}
    assert queues == {"demo_tasks", "demo_io", "demo_security"}


def test_another_prefix_gives_other_queues() -> None:
    config = load_config([NODES], [FLOW_FILES], environ={**DEMO_ENV, "DEMO_QUEUE_PREFIX": "staging"})
    assert config.task_queue("SecurityScan") == "staging_security"
    assert config.dispatcher_queue("analyze_package_priority") == "staging_priority"


def test_missing_queue_variable_is_an_error_naming_it() -> None:
    environ = {k: v for k, v in DEMO_ENV.items() if k != "DEMO_QUEUE_PREFIX"}
    with pytest.raises(ConfigurationError) as caught:
        load_config([NODES], [FLOW_FILES], environ=environ)
    assert "DEMO_QUEUE_PREFIX" in str(caught.value)


def test_export_reloads_to_the_same_revision(demo_config: SystemConfig, tmp_path: Path) -> None:
    for name, text in export_yaml(demo_config).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    reloaded = load_config([tmp_path / "nodes.yaml"], [tmp_path / "flows.yaml"], environ=DEMO_ENV)
    assert content_hash(reloaded) == content_hash(demo_config)
    assert set(reloaded.flows) == set(demo_config.flows)


def test_foreach_with_and_without_propagate_result(demo_config: SystemConfig) -> None:
    foreach_edges = [
        (flow.name, edge) for flow in demo_config.flows.values() for edge in flow.edges if edge.foreach is not None
    ]
    propagated = {(f, e.to) for f, e in foreach_edges if e.foreach and e.foreach.propagate_result}
    plain = {(f, e.to) for f, e in foreach_edges if e.foreach and not e.foreach.propagate_result}
    assert ("analyze_files", ("analyze_file",)) in propagated
    assert ("ingest_batch", ("analyze_package",)) in propagated
    assert ("dependency_audit", ("analyze_dependency",)) in propagated
    # without propagate_result: to a sub-flow (it gets the node_args instead) and to tasks
    assert ("analyze_package", ("verify_release",)) in plain
    assert demo_config.flows["analyze_package"].propagate_node_args is not False
    assert ("feature_foreach", ("VerifySignature",)) in plain


def test_sub_flows_nest_three_levels_and_more(demo_config: SystemConfig) -> None:
    assert subflow_depth(demo_config, "demo_main") == 3
    assert subflow_depth(demo_config, "analyze_package") == 3
    assert subflow_depth(demo_config, "ingest_batch") == 4


def test_every_kind_of_fallback(demo_config: SystemConfig) -> None:
    security = demo_config.flows["security_audit"]
    by_nodes = {failure.nodes: failure for failure in security.failures}
    # several nodes
    assert by_nodes[frozenset({"SecurityScan", "CheckTyposquatting"})].fallback == ("QuarantinePackage",)
    # several fallback nodes, with a condition
    conditional = by_nodes[frozenset({"SecurityScan"})]
    assert conditional.fallback == ("MarkUnscanned", "RequestManualReview")
    assert not conditional.condition_default
    assert isinstance(conditional.condition, Not)
    # fallback: true
    assert by_nodes[frozenset({"CheckTyposquatting"})].fallback is True
    # fallback on fallback: a fallback node that has its own failure entry
    assert by_nodes[frozenset({"RequestManualReview"})].fallback == ("NotifySecurityTeam",)
    sources = demo_config.flows["download_sources"]
    assert [(sorted(f.nodes), f.fallback) for f in sources.failures] == [
        (["FetchFromPrimaryMirror"], ("FetchFromBackupMirror",)),
        (["FetchFromBackupMirror"], ("FetchFromVendorCache",)),
    ]
    # the flow continues from the fallbacks
    assert any(edge.from_ == ("FetchFromVendorCache",) for edge in sources.edges)


def test_conditions_use_operators_and_many_predicates(demo_config: SystemConfig) -> None:
    conditions = list(all_conditions(demo_config))
    used_operators = set().union(*(operators(c) for c in conditions))
    assert used_operators == {"And", "Or", "Not"}
    names = {leaf.name for c in conditions for leaf in leaves(c)}
    assert {
        "fieldEqual", "fieldExist", "argsFieldEqual", "argsFieldExist", "fieldGreater",
        "fieldLenGreater", "fieldUrlNetloc", "isLargePackage", "hasPermissiveLicense",
    } <= names
    assert demo_config.global_config.predicates_module == "demo_project.tasks.predicates"


def test_propagation_flags(demo_config: SystemConfig) -> None:
    flows = demo_config.flows
    assert flows["demo_main"].propagate_node_args == frozenset({"analyze_files"})
    assert flows["demo_main"].propagate_compound_finished == frozenset({"analyze_files"})
    assert flows["analyze_package"].propagate_parent == frozenset({"collect_stats"})
    assert flows["analyze_package"].propagate_finished == frozenset(
        {"download_sources", "security_audit", "dependency_audit"}
    )
    assert flows["feature_propagate_finished"].propagate_finished is True
    assert flows["feature_propagate_compound"].propagate_compound_finished is True
    assert flows["feature_propagate_compound"].propagate_finished is False
    assert flows["analyze_package"].node_args_from_first
    assert flows["feature_node_args_from_first"].node_args_from_first


def test_nowait_eager_failures_and_retries(demo_config: SystemConfig) -> None:
    flows, tasks = demo_config.flows, demo_config.tasks
    assert flows["analyze_package"].nowait == frozenset({"NotifyMaintainers", "WarmCache"})
    assert flows["feature_nowait"].nowait == frozenset({"NotifyMaintainers", "WarmCache"})
    assert flows["analyze_package"].eager_failures == frozenset({"download_sources"})
    assert flows["feature_eager_failure"].eager_failures == frozenset({"SecurityScan"})
    assert (tasks["FlakyMirrorSync"].max_retry, tasks["FlakyMirrorSync"].retry_countdown) == (2, 1)
    assert (flows["analyze_package"].max_retry, flows["analyze_package"].retry_countdown) == (1, 10)
    assert flows["feature_flow_retry"].max_retry == 1


def test_selective_throttling_sampling(demo_config: SystemConfig) -> None:
    flows, tasks = demo_config.flows, demo_config.tasks
    selective = [edge.selective for edge in flows["feature_selective"].edges if edge.selective]
    assert len(selective) == 1
    assert selective[0].tasks == ("ClassifyLicense",)
    assert (selective[0].follow_subflows, selective[0].run_subsequent) == (False, False)
    assert tasks["FetchLicenseText"].selective_run_function is not None
    assert tasks["ListFiles"].selective_run_function is not None  # the `function:` spelling
    assert tasks["RecordAudit"].throttling == 1
    assert flows["analyze_package"].throttling == 1
    assert flows["feature_throttling"].throttling == 2
    sampling = flows["ingest_batch"].sampling
    assert (sampling.name, dict(sampling.args)) == ("constant", {"retry": 2})
    assert not flows["feature_throttling"].sampling.default


def test_storages_caches_and_schema(demo_config: SystemConfig) -> None:
    storages, tasks = demo_config.storages, demo_config.tasks
    assert (storages["Results"].module, storages["Results"].classname) == (
        "selinon_django.storages.django_db", "DjangoStorage",
    )
    assert storages["Results"].cache is not None and storages["Results"].cache.name == "LRU"
    # written with Selinon's own import path, resolved to this app's adapter
    nodes_text = next(s.text for s in demo_config.sources if s.role == "nodes")
    assert "import: selinon.storages.memory" in nodes_text
    assert storages["Memory"].module == "selinon_django.storages.memory"
    assert demo_config.flows["analyze_package"].cache is not None
    assert tasks["PublishReport"].storage_read_only
    assert tasks["FetchDependencyMetadata"].storage_task_name == "FetchMetadata"
    assert tasks["FetchDependencyMetadata"].classname == "FetchMetadata"
    storage_users = {t.storage for t in tasks.values()}
    assert storage_users == {"Results", "Memory"}
    assert [entry.kind for entry in demo_config.global_config.trace] == ["function"]


def test_output_schema_file_is_found_and_matches_the_fake_registry(demo_config: SystemConfig) -> None:
    schema_path = demo_config.tasks["FetchMetadata"].output_schema
    assert schema_path is not None
    schema = thaw(demo_config.tasks["FetchMetadata"].output_schema_document)
    assert schema == json.loads((NODES.parent / schema_path).read_text(encoding="utf-8"))
    for name in ("django", "celery", "vulnerable-lib", "djang0", "left-pad"):
        jsonschema.validate(catalog.metadata(catalog.coordinates({"name": name})), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(catalog.metadata(catalog.coordinates({"name": "rails", "ecosystem": "rubygems"})), schema)


def test_flow_alias_shares_its_definition(demo_config: SystemConfig) -> None:
    original: Flow = demo_config.flows["analyze_package"]
    alias: Flow = demo_config.flows["analyze_package_priority"]
    assert alias.edges == original.edges
    assert alias.failures == original.failures
    assert alias.queue != original.queue


def test_the_demo_flow_shows_foreach_subflow_condition_and_fallback(demo_config: SystemConfig) -> None:
    demo = demo_config.flows["demo_main"]
    assert any(demo_config.is_flow(node) for node in demo.nodes())
    assert any(not edge.condition_default for edge in demo.edges)
    assert demo.failures
    assert any(edge.foreach for edge in demo_config.flows["analyze_files"].edges)


def test_the_flows_readme_describes_every_flow(demo_config: SystemConfig) -> None:
    readme = (NODES.parent / "README.md").read_text(encoding="utf-8")
    described = {line.split("`")[1] for line in readme.splitlines() if line.startswith("| `")}
    assert described == set(demo_config.flows)
