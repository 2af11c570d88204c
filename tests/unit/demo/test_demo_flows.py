"""The demo flows run end to end on the real engine with the real task classes.

See harness.py: the engine's Simulator steps the dispatcher, every task attempt goes through
``run_attempt`` (output_schema, storage, tracing), storages are in memory. These tests pin what
the README promises for each flow.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from demo_project.tasks import catalog, tracing
from tests.unit.demo.harness import DemoRun

Simulate = Callable[..., DemoRun]
DJANGO = {"ecosystem": "pypi", "name": "django", "version": "5.2"}


def started(run: DemoRun) -> set[str]:
    return set(run.counts())


def test_demo_main_succeeds_with_foreach_subflow_condition_and_fallback(simulate: Simulate) -> None:
    run = simulate("demo_main", DJANGO)
    assert run.status == "succeeded"
    files = catalog.files(catalog.coordinates(DJANGO))
    # the foreach: one analyze_file sub-flow per file, the file as its node_args
    analyze = run.nodes("analyze_file")
    assert sorted(node.node_args["path"] for node in analyze) == sorted(files)
    assert all(node.status == "succeeded" for node in analyze)
    # the condition: CountLines only for source files
    assert len(run.nodes("CountLines")) == sum(catalog.file_kind(f) == "source" for f in files)
    assert run.statuses("CheckLicense") == ["succeeded"]
    # the fallback, and the flow continuing from it
    assert run.statuses("FetchFromPrimaryMirror") == ["failed"]
    backup = run.nodes("FetchFromBackupMirror")
    assert [(n.status, n.fallback) for n in backup] == [("succeeded", True)]
    assert run.nodes("ComputeDigest")[0].parent == {"FetchFromBackupMirror": backup[0].id}
    report = run.result("BuildReport")
    assert report["files"] == sorted(files)
    assert report["subflows"]["analyze_files"]["AnalyzeFile"] == len(files)
    assert report["tasks"]["CheckLicense"] == {"license": "BSD-3-Clause", "permissive": True, "needs_review": False}


def test_demo_main_is_deterministic(simulate: Simulate) -> None:
    first, second = simulate("demo_main", DJANGO), simulate("demo_main", DJANGO)
    assert first.counts() == second.counts()
    assert first.result("BuildReport") == second.result("BuildReport")


FEATURE_RUNS: list[tuple[str, Any]] = [
    ("feature_foreach", DJANGO),
    ("feature_fallback", DJANGO),
    ("feature_nowait", DJANGO),
    ("feature_selective", DJANGO),
    ("feature_retry", DJANGO),
    ("feature_flow_retry", DJANGO),
    ("feature_conditions", DJANGO),
    ("feature_eager_failure", DJANGO),
    ("feature_propagate_finished", DJANGO),
    ("feature_propagate_compound", DJANGO),
    ("feature_node_args_from_first", {"name": "Django"}),
    ("feature_throttling", {"packages": ["django", "celery", "requests"]}),
    ("analyze_package", DJANGO),
    ("ingest_batch", {"packages": ["django", "celery"]}),
]


@pytest.mark.parametrize(("flow", "node_args"), FEATURE_RUNS, ids=[f for f, _ in FEATURE_RUNS])
def test_documented_runs_succeed(simulate: Simulate, flow: str, node_args: Any) -> None:
    assert simulate(flow, node_args).status == "succeeded"


def test_every_flow_is_covered_by_a_documented_run(demo_config: Any) -> None:
    top_level = {name for name in demo_config.flows if name.startswith("feature_")}
    assert top_level <= {flow for flow, _ in FEATURE_RUNS}


def test_fallback_on_fallback_reaches_the_vendor_cache(simulate: Simulate) -> None:
    run = simulate("feature_fallback", {**DJANGO, "backup_mirror_offline": True})
    assert run.status == "succeeded"
    assert run.statuses("FetchFromBackupMirror") == ["failed"]
    vendor = run.nodes("FetchFromVendorCache")
    assert [(n.status, n.fallback) for n in vendor] == [("succeeded", True)]
    assert run.nodes("ComputeDigest")[0].parent == {"FetchFromVendorCache": vendor[0].id}


def test_a_vulnerable_package_starts_both_conditional_fallbacks(simulate: Simulate) -> None:
    run = simulate("feature_fallback", {"name": "vulnerable-lib"})
    assert run.status == "succeeded"
    assert run.statuses("SecurityScan") == ["failed"]
    assert run.nodes("SecurityScan")[0].attempts == 1  # FatalTaskError: max_retry is not used
    assert run.statuses("MarkUnscanned") == ["succeeded"]
    assert run.statuses("RequestManualReview") == ["succeeded"]
    assert "QuarantinePackage" not in started(run)


def test_a_failing_fallback_has_its_own_fallback(simulate: Simulate) -> None:
    run = simulate("feature_fallback", {"name": "vulnerable-lib", "no_reviewers": True})
    assert run.status == "succeeded"
    assert run.statuses("RequestManualReview") == ["failed"]
    assert [(n.status, n.fallback) for n in run.nodes("NotifySecurityTeam")] == [("succeeded", True)]


def test_greedy_matching_prefers_the_entry_covering_both_failures(simulate: Simulate) -> None:
    run = simulate("security_audit", {"name": "djang0-vulnerable"})
    assert run.status == "succeeded"
    assert run.statuses("SecurityScan") == ["failed"]
    assert run.statuses("CheckTyposquatting") == ["failed"]
    assert run.statuses("QuarantinePackage") == ["succeeded"]
    assert not {"MarkUnscanned", "RequestManualReview"} & started(run)


def test_fallback_true_just_clears_the_failure(simulate: Simulate) -> None:
    run = simulate("security_audit", {"name": "djang0"})
    assert run.status == "succeeded"
    assert run.statuses("CheckTyposquatting") == ["failed"]
    assert started(run) == {"SecurityScan", "CheckTyposquatting"}


def test_a_false_fallback_condition_leaves_the_flow_failed(simulate: Simulate) -> None:
    run = simulate("security_audit", {"name": "vulnerable-lib", "ecosystem": "internal"})
    assert run.status == "failed"
    assert started(run) == {"SecurityScan", "CheckTyposquatting"}


def test_eager_failure_fails_the_flow(simulate: Simulate) -> None:
    run = simulate("feature_eager_failure", {"name": "vulnerable-lib"})
    assert run.status == "failed"
    assert run.statuses("SecurityScan") == ["failed"]


def test_task_retries(simulate: Simulate) -> None:
    run = simulate("feature_retry", DJANGO)
    flaky = run.nodes("FlakyMirrorSync")[0]
    assert (flaky.status, flaky.attempts) == ("succeeded", 2)
    waiting = run.nodes("WaitForMirrorSync")[0]
    assert (waiting.status, waiting.attempts) == ("succeeded", 1)  # self.retry() does not count
    assert run.simulator.user_retries == {waiting.id: 1}


def test_flow_retry_restarts_the_flow(simulate: Simulate) -> None:
    run = simulate("feature_flow_retry", DJANGO)
    assert run.status == "succeeded"
    assert run.root.retried_count == 1
    assert run.statuses("FlakyOncePerFlow") == ["failed", "succeeded"]


def test_output_schema_failure_counts_as_an_exception(simulate: Simulate) -> None:
    run = simulate("feature_nowait", {"name": "rails", "ecosystem": "rubygems"})
    assert run.status == "failed"
    metadata = run.nodes("FetchMetadata")[0]
    assert (metadata.status, metadata.attempts) == ("failed", 3)  # max_retry: 2
    assert "does not match" in run.simulator.failures[metadata.id]


def test_nowait_nodes_start_but_are_not_waited_for(simulate: Simulate) -> None:
    run = simulate("feature_nowait", DJANGO)
    assert [n.name for n in run.root.nodes if n.nowait] == ["NotifyMaintainers", "WarmCache"]
    assert run.statuses("NotifyMaintainers") == ["succeeded"]
    # never tracked: the flow's result lists only the nodes it waited for
    assert set(run.root.outcome.result["finished_nodes"]) == {"FetchMetadata", "CheckLicense"}


def test_selective_edge_runs_only_the_path_to_the_target(simulate: Simulate) -> None:
    run = simulate("feature_selective", DJANGO)
    review = run.subflow("license_review")
    assert review.status == "succeeded"
    assert review.counts() == {"FetchLicenseText": 1, "ClassifyLicense": 1}
    assert run.result("ClassifyLicense") == {"license": "BSD-3-Clause", "category": "permissive"}


def test_conditions(simulate: Simulate) -> None:
    conditional = {"CheckLicense", "FetchGithubStats", "IndexSearch", "CollectKeywords", "ArchiveLicenseText",
                   "FetchDownloadStats"}
    assert started(simulate("feature_conditions", DJANGO)) == {"FetchMetadata", *conditional}
    # proprietary license on gitlab.com, but popular: only the `or` and the args conditions hold
    vulnerable = catalog.metadata(catalog.coordinates({"name": "vulnerable-lib"}))
    assert (vulnerable["license"], vulnerable["repository"].split("/")[2]) == ("proprietary", "gitlab.com")
    run = simulate("feature_conditions", {"ecosystem": "pypi", "name": "vulnerable-lib", "skip_stats": True})
    assert started(run) == {"FetchMetadata", "IndexSearch", "CollectKeywords"}
    run = simulate("feature_conditions", {"name": "django", "ecosystem": "npm"})
    assert "CollectKeywords" not in started(run)


def test_propagate_finished_nested_and_compound_give_the_same_summary(simulate: Simulate) -> None:
    nested = simulate("feature_propagate_finished", DJANGO)
    compound = simulate("feature_propagate_compound", DJANGO)
    nested_parent = nested.nodes("SummarizeFiles")[0].parent
    compound_parent = compound.nodes("SummarizeFiles")[0].parent
    assert nested_parent is not None and compound_parent is not None
    assert set(nested_parent["analyze_files"]) == {"ListFiles", "analyze_file"}
    assert "AnalyzeFile" in compound_parent["analyze_files"]
    expected = sorted(catalog.files(catalog.coordinates(DJANGO)))
    assert nested.result("SummarizeFiles")["files"] == expected
    assert compound.result("SummarizeFiles") == nested.result("SummarizeFiles")


def test_node_args_from_first(simulate: Simulate) -> None:
    run = simulate("feature_node_args_from_first", {"name": "Django"})
    assert run.nodes("FetchMetadata")[0].node_args == DJANGO
    assert run.nodes("analyze_files")[0].node_args == DJANGO


def test_throttled_task_runs_once_per_package(simulate: Simulate) -> None:
    run = simulate("feature_throttling", {"packages": ["django", "celery", "requests"]})
    assert run.statuses("RecordAudit") == ["succeeded"] * 3
    assert ("task", "RecordAudit", 1) in run.simulator.demo_ports.throttle_calls


def test_analyze_package_end_to_end(simulate: Simulate) -> None:
    run = simulate("analyze_package", {"name": "Django"})
    assert run.status == "succeeded"
    assert run.root.node_args == DJANGO  # node_args_from_first
    assert len(run.nodes("analyze_dependency")) == len(catalog.dependencies(catalog.coordinates(DJANGO)))
    assert len(run.nodes("verify_release")) == 2  # default verification_quorum
    assert all(node.node_args == DJANGO for node in run.nodes("verify_release"))  # propagate_node_args
    stats = run.nodes("collect_stats")[0]
    assert stats.parent == {"FetchMetadata": run.nodes("FetchMetadata")[0].id}  # propagate_parent
    assert run.result("FetchGithubStats")["from_parent"] is True
    assert run.result("ComputeScore")["signals"]["security"] == "clean"
    assert run.result("ComputeScore")["signals"]["dependencies_checked"] == 2
    assert "license_review" not in started(run)  # permissive license
    assert run.statuses("IndexSearch") == ["succeeded"]


def test_analyze_package_scores_a_vulnerable_package(simulate: Simulate) -> None:
    run = simulate("analyze_package", {"name": "vulnerable-lib"})
    assert run.status == "succeeded"
    assert run.result("ComputeScore")["signals"]["security"] == "unscanned"


def test_analyze_package_reviews_a_copyleft_license(simulate: Simulate) -> None:
    name = "bar"
    assert catalog.metadata(catalog.coordinates({"name": name}))["license"] == "GPL-3.0-only"
    run = simulate("analyze_package", {"name": name})
    assert run.status == "succeeded"
    assert run.subflow("license_review").counts() == {"FetchLicenseText": 1, "ClassifyLicense": 1,
                                                      "ArchiveLicenseText": 1}
    assert run.result("ClassifyLicense")["category"] == "copyleft"


def test_analyze_package_fails_eagerly_without_sources_and_retries_once(simulate: Simulate) -> None:
    run = simulate("analyze_package", {"name": "django", "offline": True})
    assert run.status == "failed"
    assert run.root.retried_count == 1
    assert run.statuses("download_sources") == ["failed", "failed"]


def test_ingest_batch_analyses_each_package(simulate: Simulate) -> None:
    run = simulate("ingest_batch", {"packages": ["django", {"name": "celery"}]})
    assert run.status == "succeeded"
    packages = run.nodes("analyze_package")
    assert [node.node_args for node in packages] == [
        DJANGO, {"ecosystem": "pypi", "name": "celery", "version": "5.5.0"},
    ]
    assert run.statuses("RecordAudit") == ["succeeded", "succeeded"]


def test_the_trace_function_sees_the_run(simulate: Simulate) -> None:
    tracing.clear()
    simulate("feature_retry", DJANGO)
    names = [name for name, _ in tracing.recorded_events()]
    assert "TASK_START" in names
    assert "TASK_RETRY" in names
