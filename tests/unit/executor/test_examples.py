"""The three reference examples (../shared/examples) through ``selinon_execute --report``.

The reports are compared with the reference's expected reports by the examples'
``compare_reports.canon`` (what ran, how often, with which parents, node_args and attempts).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from compare_reports import canon

from tests.conftest import EXAMPLES, REPO
from tests.unit.executor.conftest import run_command

NAMES = ("docs_flow1", "fallback_in_subflow", "foreach_subflows")


def scenario(name: str) -> tuple[list[str], dict[str, object]]:
    folder = EXAMPLES / name
    spec = json.loads((folder / "scenario.json").read_text(encoding="utf-8"))
    args = [
        "-n", str(folder / "nodes.yaml"), "-f", str(folder / "flows.yaml"),
        "--flow-name", spec["flow"], "--node-args", json.dumps(spec["node_args"]),
    ]
    expected = json.loads((folder / "expected-report.json").read_text(encoding="utf-8"))
    return args, expected


@pytest.mark.django_db
@pytest.mark.parametrize("name", NAMES)
def test_example_report_matches_the_reference(name: str, tmp_path: Path) -> None:
    args, expected = scenario(name)
    run = run_command(*args, report_path=tmp_path / "report.json")
    assert run.returncode == 0, run.error
    assert run.report is not None
    assert canon(run.report) == canon(expected)
    assert run.report["status"] == "succeeded"


@pytest.mark.django_db
def test_example_ids_are_uuids_and_nodes_are_in_start_order(tmp_path: Path) -> None:
    import uuid

    args, _ = scenario("docs_flow1")
    run = run_command(*args, report_path=tmp_path / "report.json")
    assert run.report is not None
    for node in run.walk():
        uuid.UUID(node["id"])
    assert run.names() == ["Task1", "Task2", "flow2", "Task3"]
    assert run.names(run.node("flow2")["run"]) == ["Task4", "Task5"]
    # results are in the report: Task1 n=1, Task2 n=2, Task3 one more than its task parent
    assert run.node("Task3")["result"] == {"task": "Task3", "foo": "bar", "n": 3}


def test_example_through_manage_py(tmp_path: Path) -> None:
    """The command line of the examples' README, in a fresh database, as a real process."""
    args, expected = scenario("fallback_in_subflow")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(EXAMPLES), str(REPO)]),
        "SELINON_DJANGO_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    manage = [sys.executable, str(REPO / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=REPO)
    report = tmp_path / "report.json"
    done = subprocess.run(
        [*manage, "selinon_execute", *args, "--report", str(report)],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert canon(json.loads(report.read_text(encoding="utf-8"))) == canon(expected)
    lines = done.stdout.splitlines()
    assert any("start  task Risky" in line and "attempt 2" in line for line in lines)
    assert any("FAIL   task Risky" in line for line in lines)
    assert "outer" in lines[-3] and "succeeded" in lines[-3]
    compare = subprocess.run(
        [sys.executable, str(EXAMPLES / "compare_reports.py"), str(report),
         str(EXAMPLES / "fallback_in_subflow" / "expected-report.json")],
        capture_output=True, text=True,
    )
    assert compare.returncode == 0, compare.stdout
