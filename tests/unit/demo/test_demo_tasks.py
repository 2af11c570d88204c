"""The demo's task classes and helper functions, called directly with a fake storage pool."""
from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from demo_project.tasks import attempts, catalog, foreach, predicates, selective, tracing
from demo_project.tasks.files import AnalyzeFile, CountLines, DetectLanguage, SummarizeFiles
from demo_project.tasks.licensing import CheckLicense, ClassifyLicense
from demo_project.tasks.metadata import FetchGithubStats, FetchMetadata, ResolvePackage, ValidateBatch
from demo_project.tasks.reporting import BuildReport, ComputeScore, PublishReport
from demo_project.tasks.retries import FlakyMirrorSync, FlakyOncePerFlow, WaitForMirrorSync
from demo_project.tasks.security import CheckTyposquatting, SecurityScan
from demo_project.tasks.sources import (
    ExtractArchive,
    FetchFromBackupMirror,
    FetchFromPrimaryMirror,
    FetchFromVendorCache,
    MirrorUnavailable,
)
from selinon_django import predicates as builtin_predicates
from selinon_django.errors import FatalTaskError
from selinon_django.task import RequestedRetry, SelinonTask

DJANGO = {"ecosystem": "pypi", "name": "django", "version": "5.2"}


class FakePool:
    """Results by task id; records what was read (flow, task, id)."""

    config = None

    def __init__(self, results: Mapping[str, Any] | None = None) -> None:
        self.results = dict(results or {})
        self.reads: list[tuple[str, str, str]] = []

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        self.reads.append((flow_name, task_name, task_id))
        return self.results[task_id]

    def get_storage_by_task_name(self, task_name: str) -> None:
        return None


def make(cls: type[SelinonTask], parent: Mapping[str, Any] | None = None, results: Mapping[str, Any] | None = None,
         *, task_id: str = "t-1", dispatcher_id: str = "d-1", flow_name: str = "flow") -> Any:
    return cls(flow_name, cls.__name__, parent, task_id, dispatcher_id, storage_pool=FakePool(results))  # type: ignore[arg-type]


# --- registry and sources ----------------------------------------------------------------------


def test_resolve_package_normalises_and_keeps_options() -> None:
    assert make(ResolvePackage).run({"name": " Django "}) == DJANGO
    assert make(ResolvePackage).run({"name": "foo", "offline": True}) == {
        "ecosystem": "pypi", "name": "foo", "version": "1.0.0", "offline": True,
    }
    assert make(ResolvePackage).run(None)["name"] == "example"


@pytest.mark.parametrize("bad", [None, {}, {"packages": "django"}, {"packages": [{"version": "1"}]}, {"packages": [3]}])
def test_validate_batch_refuses_malformed_batches_for_good(bad: Any) -> None:
    with pytest.raises(FatalTaskError):
        make(ValidateBatch).run(bad)


def test_fetch_metadata_is_deterministic_and_package_specific() -> None:
    first, again = make(FetchMetadata).run(DJANGO), make(FetchMetadata).run(dict(DJANGO))
    assert first == again
    assert first["license"] == "BSD-3-Clause"
    assert first["repository"] == "https://github.com/django/django"
    assert make(FetchMetadata).run({"name": "celery"})["name"] == "celery"


def test_mirrors_fail_on_demand() -> None:
    with pytest.raises(MirrorUnavailable):
        make(FetchFromPrimaryMirror).run(DJANGO)
    assert make(FetchFromPrimaryMirror).run({**DJANGO, "primary_mirror_online": True})["mirror"] == "primary"
    assert make(FetchFromBackupMirror).run(DJANGO)["mirror"] == "backup"
    with pytest.raises(MirrorUnavailable):
        make(FetchFromBackupMirror).run({**DJANGO, "backup_mirror_offline": True})
    assert make(FetchFromVendorCache).run({**DJANGO, "backup_mirror_offline": True})["mirror"] == "vendor-cache"
    with pytest.raises(MirrorUnavailable):
        make(FetchFromVendorCache).run({**DJANGO, "offline": True})


def test_extract_archive_reads_whichever_mirror_succeeded() -> None:
    fetched = catalog.archive(DJANGO, "vendor-cache")
    task = make(ExtractArchive, {"FetchFromVendorCache": "v-1"}, {"v-1": fetched})
    assert task.run(DJANGO)["mirror"] == "vendor-cache"
    assert task.storage_pool.reads == [("flow", "FetchFromVendorCache", "v-1")]


def test_github_stats_prefer_the_propagated_parent() -> None:
    metadata = {**catalog.metadata(DJANGO), "repository": "https://github.com/elsewhere/django"}
    stats = make(FetchGithubStats, {"FetchMetadata": "m-1"}, {"m-1": metadata}).run(DJANGO)
    assert (stats["repository"], stats["from_parent"]) == ("https://github.com/elsewhere/django", True)
    assert make(FetchGithubStats).run(DJANGO)["from_parent"] is False


# --- files, licenses, security -----------------------------------------------------------------


def test_file_tasks() -> None:
    item = {**DJANGO, "path": "django/core.py"}
    analysed = make(AnalyzeFile).run(item)
    assert (analysed["path"], analysed["kind"]) == ("django/core.py", "source")
    assert make(DetectLanguage).run(item)["language"] == "Python"
    assert make(DetectLanguage).run({**DJANGO, "path": "LICENSE"})["language"] == "unknown"
    lines = make(CountLines, {"AnalyzeFile": "a-1"}, {"a-1": analysed}).run(item)
    assert lines == {"path": "django/core.py", "lines": analysed["size_bytes"] // 32}


def test_summarize_files_reads_nested_and_compound_parents() -> None:
    results = {"a-1": {"path": "x.py", "kind": "source"}, "a-2": {"path": "README.md", "kind": "docs"}}
    nested = {"analyze_files": {"ListFiles": ["l-1"], "analyze_file": {"AnalyzeFile": ["a-1", "a-2"]}}}
    compound = {"analyze_files": {"ListFiles": ["l-1"], "AnalyzeFile": ["a-1", "a-2"]}}
    expected = {"files": ["README.md", "x.py"], "by_kind": {"docs": 1, "source": 1}}
    assert make(SummarizeFiles, nested, results).run(None) == expected
    assert make(SummarizeFiles, compound, results).run(None) == expected


def test_license_tasks() -> None:
    metadata = {"license": "GPL-3.0-only"}
    checked = make(CheckLicense, {"FetchMetadata": "m-1"}, {"m-1": metadata}).run(DJANGO)
    assert checked == {"license": "GPL-3.0-only", "permissive": False, "needs_review": True}
    assert make(ClassifyLicense, {"FetchLicenseText": "f"}, {"f": metadata}).run(DJANGO)["category"] == "copyleft"
    assert make(ClassifyLicense, {"FetchLicenseText": "f"}, {"f": {"license": "MIT"}}).run(DJANGO)["category"] == (
        "permissive"
    )


def test_security_checks_fail_for_suspicious_names() -> None:
    assert make(SecurityScan).run(DJANGO)["advisories"] == []
    with pytest.raises(FatalTaskError, match="advisory"):
        make(SecurityScan).run({"name": "vulnerable-lib"})
    assert make(CheckTyposquatting).run(DJANGO) == {"lookalike": False}
    with pytest.raises(ValueError, match="djang0"):
        make(CheckTyposquatting).run({"name": "djang0-vulnerable"})
    assert make(CheckTyposquatting).run({"name": "djang0xyz"}) == {"lookalike": False}


# --- retries -----------------------------------------------------------------------------------


def test_flaky_task_fails_once_per_task_id(attempts_dir: Path) -> None:
    with pytest.raises(MirrorUnavailable):
        make(FlakyMirrorSync, task_id="a").run(DJANGO)
    with pytest.raises(MirrorUnavailable):
        make(FlakyMirrorSync, task_id="b").run(DJANGO)  # another task: its own first attempt
    assert make(FlakyMirrorSync, task_id="a").run(DJANGO)["synchronised"] is True
    assert len(list(attempts_dir.iterdir())) == 1  # a's marker was cleaned up, b's is pending


def test_wait_for_mirror_sync_asks_for_a_retry_once() -> None:
    with pytest.raises(RequestedRetry) as caught:
        make(WaitForMirrorSync, task_id="w").run(DJANGO)
    assert caught.value.countdown == 1
    assert make(WaitForMirrorSync, task_id="w").run(DJANGO)["waited"] is True


def test_flaky_once_per_flow_is_keyed_by_dispatcher_id() -> None:
    with pytest.raises(RuntimeError):
        make(FlakyOncePerFlow, task_id="first", dispatcher_id="run-1").run(DJANGO)
    # the flow's retry: new task id, same dispatcher id
    assert make(FlakyOncePerFlow, task_id="second", dispatcher_id="run-1").run(DJANGO)["flow_attempt"]


def test_first_time_holds_across_processes(attempts_dir: Path) -> None:
    code = "from demo_project.tasks import attempts; print(attempts.first_time('shared-key'))"
    outputs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       cwd=Path(__file__).resolve().parents[3]).stdout.strip()
        for _ in range(2)
    ]
    assert outputs == ["True", "False"]
    assert attempts.first_time("shared-key") is False
    attempts.forget("shared-key")
    assert attempts.first_time("shared-key") is True


# --- reporting ---------------------------------------------------------------------------------


def test_compute_score_reads_the_security_verdict_from_finished_nodes() -> None:
    metadata = catalog.metadata(DJANGO)
    base = {"FetchMetadata": "m"}
    results = {"m": metadata}
    clean = make(ComputeScore, {**base, "security_audit": {"SecurityScan": ["s"]}}, results).run(DJANGO)
    assert (clean["score"], clean["signals"]["security"]) == (100, "clean")
    unscanned = make(ComputeScore, {**base, "security_audit": {"MarkUnscanned": ["u"]}}, results).run(DJANGO)
    assert (unscanned["score"], unscanned["signals"]["security"]) == (60, "unscanned")
    quarantined = make(ComputeScore, {**base, "security_audit": {"QuarantinePackage": ["q"]}}, results).run(DJANGO)
    assert quarantined["score"] == 0
    deps = {"dependency_audit": {"ResolveDependencies": ["r"],
                                 "analyze_dependency": {"CheckDependencyLicense": ["c1", "c2"]}}}
    assert make(ComputeScore, {**base, **deps}, results).run(DJANGO)["signals"]["dependencies_checked"] == 2


def test_build_report_and_publish() -> None:
    results = {"s": {"score": 90}, "a": {"path": "x.py", "kind": "source"}}
    parent = {"ComputeScore": "s", "analyze_files": {"ListFiles": ["l"], "AnalyzeFile": ["a"]}}
    report = make(BuildReport, parent, results).run(DJANGO)
    assert report == {
        "package": DJANGO,
        "tasks": {"ComputeScore": {"score": 90}},
        "subflows": {"analyze_files": {"AnalyzeFile": 1, "ListFiles": 1}},
        "files": ["x.py"],
    }
    published = make(PublishReport, {"BuildReport": "b"}, {"b": report}).run(DJANGO)
    assert published == {"published": "https://reports.example.org/pypi/django/5.2", "score": 90}


# --- foreach, selective, predicates, tracing ---------------------------------------------------


class BoundPool:
    def __init__(self, results: Mapping[str, Any]) -> None:
        self.results = results

    def get(self, task_name: str) -> Any:
        return self.results[task_name]


def test_foreach_functions() -> None:
    listing = {**DJANGO, "files": ["a.py", "README.md"]}
    assert foreach.files_from_listing(BoundPool({"ListFiles": listing}), None) == [
        {**DJANGO, "path": "a.py"}, {**DJANGO, "path": "README.md"},
    ]
    deps = [{"ecosystem": "pypi", "name": "asgiref", "version": "latest"}]
    assert foreach.dependencies_from_result(BoundPool({"ResolveDependencies": {"dependencies": deps}}), None) == deps
    assert foreach.packages_from_batch(BoundPool({"ValidateBatch": {"packages": [DJANGO]}}), None) == [DJANGO]
    assert foreach.verification_rounds(None, {}) == [0, 1]
    assert foreach.verification_rounds(None, {"verification_quorum": 3}) == [0, 1, 2]
    assert foreach.verification_rounds(None, {"verification_quorum": "many"}) == [0, 1]


def test_foreach_never_raises_on_a_missing_result(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="demo_project.tasks.foreach"):
        assert foreach.files_from_listing(BoundPool({}), DJANGO) == []
    assert "ListFiles" in caplog.text


def test_selective_run_function_reuses_only_what_it_is_given() -> None:
    args = {"name": "django", "reuse_results": {"FetchLicenseText": "old-id"}}
    assert selective.reuse_previous_result("f", "FetchLicenseText", args, ["ClassifyLicense"], None) == "old-id"
    assert selective.reuse_previous_result("f", "FetchMetadata", args, ["ClassifyLicense"], None) is None
    assert selective.reuse_previous_result("f", "FetchLicenseText", None, [], None) is None
    assert selective.always_run("f", "ListFiles", args, [], None) is None  # type: ignore[func-returns-value]


def test_predicates_module_re_exports_every_builtin() -> None:
    for name in builtin_predicates.__all__:
        assert getattr(predicates, name) is getattr(builtin_predicates, name)


@pytest.mark.parametrize(
    ("message", "threshold", "expected"),
    [({"size_kb": 600}, 500, True), ({"size_kb": 500}, 500, False), ({"size_kb": "big"}, 1, False),
     ({"size_kb": True}, 0, False), (None, 1, False), ({"size_kb": 10}, "x", False)],
)
def test_is_large_package(message: Any, threshold: Any, expected: bool) -> None:
    assert predicates.isLargePackage(message, threshold) is expected


def test_has_permissive_license() -> None:
    assert predicates.hasPermissiveLicense({"license": "MIT"})
    assert not predicates.hasPermissiveLicense({"license": "proprietary"})
    assert not predicates.hasPermissiveLicense(["MIT"])


def test_trace_function_names_events_and_never_raises() -> None:
    tracing.clear()
    tracing.record_event(4, {"task_name": "X"})
    tracing.record_event("CUSTOM", object())
    assert [name for name, _ in tracing.recorded_events()] == ["TASK_START", "CUSTOM"]
    assert tracing.recorded_events()[0][1] == {"task_name": "X"}
