"""``selinon_execute`` as a command: where the configuration comes from, input checks, exit statuses."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import override_settings

from selinon_django.models import ConfigRevision
from selinon_django.runtime.inprocess import ExecutionError, InProcessExecutor
from tests.unit.executor.conftest import FLOWS, HERE, NODES, Execute, run_command

pytestmark = pytest.mark.django_db

BAD_INPUT = 2


def test_success_exits_0_with_progress_and_summary(execute: Execute) -> None:
    run = execute("one_to_one")
    assert run.returncode == 0
    lines = run.stdout.splitlines()
    assert lines[0].startswith("Running one_to_one from new revision")
    assert any(line.startswith("[    0.000s] start  task A") for line in lines)
    assert any(line.startswith("[    2.000s] done   task B") for line in lines)
    summary = next(line for line in lines if line.startswith("one_to_one "))
    assert "succeeded after 4.000 s (simulated)" in summary and "2 tasks succeeded" in summary
    assert lines[-1].startswith("Report written to")


def test_failure_exits_1_and_still_writes_the_report(execute: Execute) -> None:
    run = execute("fatal")
    assert run.returncode == 1
    assert run.report is not None and run.report["status"] == "failed"
    assert "failed: fatal/Fatal" in run.stdout
    assert "flow fatal" in run.error and "failed" in run.error


def test_verbosity_0_prints_only_the_summary(execute: Execute) -> None:
    run = execute("one_to_one", None, "-v", "0")
    assert "start  task" not in run.stdout
    assert "one_to_one" in run.stdout


def test_files_are_loaded_as_a_revision_then_the_current_revision_runs(tmp_path: Path) -> None:
    first = run_command("-n", str(NODES), "-f", str(FLOWS), "--flow-name", "one_to_one")
    assert first.returncode == 0
    assert ConfigRevision.objects.count() == 1
    again = run_command("-n", str(NODES), "-f", str(FLOWS), "--flow-name", "one_to_one")
    assert ConfigRevision.objects.count() == 1  # same content: no new revision
    assert "from revision 1" in again.stdout
    current = run_command("--flow-name", "one_to_many", report_path=tmp_path / "r.json")
    assert current.returncode == 0
    assert "from revision 1" in current.stdout
    assert current.report is not None and [n["name"] for n in current.report["nodes"]] == ["A", "B", "C"]


def test_environment_names_the_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELINON_NODES_DEFINITION", str(NODES))
    monkeypatch.setenv("SELINON_FLOW_DEFINITIONS", str(FLOWS))
    run = run_command("--flow-name", "one_to_one")
    assert run.returncode == 0, run.error
    assert ConfigRevision.objects.count() == 1


def test_without_files_or_revision_the_settings_files_run() -> None:
    run = run_command("--flow-name", "analyze_file", "--node-args", json.dumps({"path": "x/setup.py"}))
    assert "demo_project/flows" in run.stdout.splitlines()[0]
    assert run.returncode == 0, run.error


def test_node_args_file(execute: Execute, tmp_path: Path) -> None:
    path = tmp_path / "args.json"
    path.write_text(json.dumps({"x": 2}), encoding="utf-8")
    run = execute("one_to_one", None, "--node-args-file", str(path))
    assert run.returncode == 0
    assert run.report is not None and run.report["node_args"] == {"x": 2}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--flow-name", "no_such_flow"], "unknown flow 'no_such_flow'"),
        (["--flow-name", "one_to_one", "--node-args", "{not json"], "not valid JSON"),
        (["--flow-name", "one_to_one", "--node-args", "[" * 100_000], "MAX_JSON_DEPTH"),
        (["--flow-name", "one_to_one", "--node-args-file", "/nonexistent/args.json"], "cannot read node_args"),
        (["--flow-name", "selective", "--selective-task-names", "Nope"], "unknown task(s) Nope"),
        (["--flow-name", "one_to_one", "--selective-task-names", "C"], "no path to 'C'"),
        (["--flow-name", "one_to_one", "--selective-task-names", " , "], "names no task"),
        (["--flow-name", "one_to_one", "--selective-follow-subflows"], "need --selective-task-names"),
    ],
)
def test_bad_input_exits_2_without_running(args: list[str], message: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    run = run_command("-n", str(NODES), "-f", str(FLOWS), *args, report_path=report)
    assert run.returncode == BAD_INPUT
    assert message in run.error
    assert not report.exists()
    assert "start  task" not in run.stdout


def test_node_args_too_large_exits_2(execute: Execute) -> None:
    with override_settings(SELINON_DJANGO={"MAX_NODE_ARGS_BYTES": 20}):
        run = execute("one_to_one", {"payload": "x" * 50})
    assert run.returncode == BAD_INPUT
    assert "MAX_NODE_ARGS_BYTES (20)" in run.error
    assert run.report is None


def test_configuration_errors_exit_2_with_key_paths() -> None:
    run = run_command("-n", str(NODES), "-f", str(HERE / "flows" / "invalid.yaml"), "--flow-name", "one_to_one")
    assert run.returncode == BAD_INPUT
    assert "invalid configuration" in run.error
    assert "invalid.yaml: flow-definitions[0].edges[1].to: unknown node 'NoSuchTask'" in run.error
    assert ConfigRevision.objects.count() == 0


def test_missing_definition_file_exits_2() -> None:
    run = run_command("-n", "/nonexistent/nodes.yaml", "--flow-name", "one_to_one")
    assert run.returncode == BAD_INPUT
    assert "not found" in run.error


def test_a_run_that_never_ends_is_stopped() -> None:
    from selinon_django.config import load_config

    config = load_config([NODES], [FLOWS])
    with pytest.raises(ExecutionError, match="did not finish within 5 events"):
        InProcessExecutor(config, max_events=5).run("task_retries", {"fail_times": 1})
