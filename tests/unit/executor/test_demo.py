"""The demo project's flows through ``selinon_execute``: what demo_project/flows/README.md promises.

The demo's own storages are used (results in the database), so these tests also run the
Django storage adapter end to end.
"""
from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo_project.tasks import catalog
from tests.conftest import REPO
from tests.unit.executor.conftest import Run, run_command

pytestmark = pytest.mark.django_db

DEMO_NODES = REPO / "demo_project" / "flows" / "nodes.yaml"
DEMO_FLOWS = REPO / "demo_project" / "flows" / "flows"
DJANGO = {"ecosystem": "pypi", "name": "django", "version": "5.2"}


@pytest.fixture(autouse=True)
def _demo_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DEMO_QUEUE_PREFIX", "demo")
    monkeypatch.setenv("DEMO_ATTEMPTS_DIR", str(tmp_path / "attempts"))
    yield


def demo(flow: str, node_args: Any, tmp_path: Path, *extra: str) -> Run:
    return run_command(
        "-n", str(DEMO_NODES), "-f", str(DEMO_FLOWS), "--flow-name", flow, "--node-args", json.dumps(node_args),
        *extra, report_path=tmp_path / f"{flow}.json",
    )


def test_demo_main_succeeds(tmp_path: Path) -> None:
    run = demo("demo_main", DJANGO, tmp_path)
    assert run.returncode == 0, run.error
    files = catalog.files(catalog.coordinates(DJANGO))
    assert sorted(node["run"]["node_args"]["path"] for node in run.nodes("analyze_file")) == sorted(files)
    assert run.statuses("FetchFromPrimaryMirror") == ["failed"]
    backup = run.node("FetchFromBackupMirror")
    assert (backup["status"], backup.get("fallback")) == ("succeeded", True)
    assert run.node("ComputeDigest")["parent"] == {"FetchFromBackupMirror": backup["id"]}
    report = run.node("BuildReport")["result"]
    assert report["files"] == sorted(files)


FEATURES: list[tuple[str, Any]] = [
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
    ("ingest_batch", {"packages": ["django", "celery"]}),
]


@pytest.mark.parametrize(("flow", "node_args"), FEATURES, ids=[f for f, _ in FEATURES])
def test_documented_runs_succeed(flow: str, node_args: Any, tmp_path: Path) -> None:
    run = demo(flow, node_args, tmp_path)
    assert (run.returncode, run.status) == (0, "succeeded"), run.error


def test_fallback_on_fallback(tmp_path: Path) -> None:
    run = demo("feature_fallback", {**DJANGO, "backup_mirror_offline": True}, tmp_path)
    assert run.status == "succeeded"
    assert run.statuses("FetchFromBackupMirror") == ["failed"]
    vendor = run.node("FetchFromVendorCache")
    assert (vendor["status"], vendor.get("fallback")) == ("succeeded", True)


def test_conditional_fallbacks_for_a_vulnerable_package(tmp_path: Path) -> None:
    run = demo("feature_fallback", {"name": "vulnerable-lib"}, tmp_path)
    assert run.status == "succeeded"
    assert run.node("SecurityScan")["attempts"] == 1  # FatalTaskError
    assert run.statuses("MarkUnscanned") == run.statuses("RequestManualReview") == ["succeeded"]
    run = demo("feature_fallback", {"name": "vulnerable-lib", "no_reviewers": True}, tmp_path)
    assert run.statuses("RequestManualReview") == ["failed"]
    assert run.statuses("NotifySecurityTeam") == ["succeeded"]


def test_eager_failure(tmp_path: Path) -> None:
    run = demo("feature_eager_failure", {"name": "vulnerable-lib"}, tmp_path)
    assert (run.returncode, run.status) == (1, "failed")
    assert run.statuses("SecurityScan") == ["failed"]


def test_task_retries(tmp_path: Path) -> None:
    run = demo("feature_retry", DJANGO, tmp_path)
    assert run.node("FlakyMirrorSync")["attempts"] == 2
    waiting = run.node("WaitForMirrorSync")
    assert (waiting["status"], waiting["attempts"]) == ("succeeded", 2)  # one self.retry()


def test_flow_retry(tmp_path: Path) -> None:
    run = demo("feature_flow_retry", DJANGO, tmp_path)
    assert run.status == "succeeded"
    assert run.statuses("FlakyOncePerFlow") == ["failed", "succeeded"]


def test_output_schema_failure(tmp_path: Path) -> None:
    run = demo("feature_nowait", {"name": "rails", "ecosystem": "rubygems"}, tmp_path)
    assert run.returncode == 1
    metadata = run.node("FetchMetadata")
    assert (metadata["status"], metadata["attempts"]) == ("failed", 3)
    assert "does not match" in metadata["exception"]


def test_nowait(tmp_path: Path) -> None:
    run = demo("feature_nowait", DJANGO, tmp_path)
    assert [n["name"] for n in run.walk() if n.get("nowait")] == ["NotifyMaintainers", "WarmCache"]
    assert run.statuses("NotifyMaintainers") == ["succeeded"]


def test_selective_edge(tmp_path: Path) -> None:
    run = demo("feature_selective", DJANGO, tmp_path)
    review = run.node("license_review")["run"]
    assert [n["name"] for n in review["nodes"]] == ["FetchLicenseText", "ClassifyLicense"]


def test_selective_reuse_of_an_earlier_result(tmp_path: Path) -> None:
    first = demo("feature_selective", DJANGO, tmp_path)
    earlier = first.node("FetchLicenseText")
    run = demo("feature_selective", {**DJANGO, "reuse_results": {"FetchLicenseText": earlier["id"]}}, tmp_path)
    assert run.status == "succeeded"
    reused = run.node("FetchLicenseText")
    assert (reused["id"], reused["attempts"]) == (earlier["id"], 0)


def test_propagate_finished_and_compound(tmp_path: Path) -> None:
    nested = demo("feature_propagate_finished", DJANGO, tmp_path)
    compound = demo("feature_propagate_compound", DJANGO, tmp_path)
    assert set(nested.node("SummarizeFiles")["parent"]["analyze_files"]) == {"ListFiles", "analyze_file"}
    assert "AnalyzeFile" in compound.node("SummarizeFiles")["parent"]["analyze_files"]
    assert nested.node("SummarizeFiles")["result"] == compound.node("SummarizeFiles")["result"]


def test_node_args_from_first(tmp_path: Path) -> None:
    run = demo("feature_node_args_from_first", {"name": "Django"}, tmp_path)
    assert run.node("FetchMetadata")["node_args"] == DJANGO


def test_throttling_spaces_record_audit(tmp_path: Path) -> None:
    run = demo("feature_throttling", {"packages": ["django", "celery", "requests"]}, tmp_path)
    starts = run.progress("start  task RecordAudit")
    assert len(starts) == 3
    assert all(b - a >= 1 for a, b in itertools.pairwise(starts))


def test_selective_command_line_on_the_demo(tmp_path: Path) -> None:
    run = demo("license_review", DJANGO, tmp_path, "--selective-task-names", "ClassifyLicense")
    assert run.status == "succeeded"
    assert run.names() == ["FetchLicenseText", "ClassifyLicense"]


def test_the_configured_tracer_sees_dispatcher_and_task_events(tmp_path: Path) -> None:
    from demo_project.tasks import tracing

    tracing.clear()
    run = demo("feature_retry", DJANGO, tmp_path)
    assert run.report is not None
    events = tracing.recorded_events()
    names = [name for name, _ in events]
    for expected in ("FLOW_START", "TASK_SCHEDULE", "TASK_START", "TASK_RETRY", "TASK_END", "FLOW_END"):
        assert expected in names
    flow_ends = [details for name, details in events if name == "FLOW_END"]
    assert any(details.get("dispatcher_id") == run.report["id"] for details in flow_ends)
