"""Run flows through ``manage.py selinon_execute`` and read back the report it writes.

``execute(flow, node_args, *extra)`` loads ``flows/nodes.yaml`` + ``flows/flows/`` (the test
task classes in ``tasks.py``), runs the command with ``--report`` and returns a :class:`Run`:
the exit status, stdout, stderr text and the report, with helpers to find nodes in the tree.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from selinon_django.management.options import ENV_FLOWS, ENV_NODES
from tests.unit.executor import tasks

HERE = Path(__file__).resolve().parent
NODES = HERE / "flows" / "nodes.yaml"
FLOWS = HERE / "flows" / "flows"


@dataclass
class Run:
    returncode: int
    stdout: str
    error: str
    report: dict[str, Any] | None

    @property
    def status(self) -> str:
        assert self.report is not None, self.error
        return str(self.report["status"])

    def walk(self, report: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every node entry of the tree, depth first in start order."""
        report = report if report is not None else self.report
        assert report is not None, self.error
        for node in report["nodes"]:
            yield node
            if "run" in node:
                yield from self.walk(node["run"])

    def nodes(self, name: str) -> list[dict[str, Any]]:
        return [node for node in self.walk() if node["name"] == name]

    def node(self, name: str) -> dict[str, Any]:
        found = self.nodes(name)
        assert len(found) == 1, f"{name}: {len(found)} instances"
        return found[0]

    def statuses(self, name: str) -> list[str]:
        return [node["status"] for node in self.nodes(name)]

    def names(self, report: dict[str, Any] | None = None) -> list[str]:
        """Names of the nodes a run started itself (not its sub-flows'), in start order."""
        report = report if report is not None else self.report
        assert report is not None, self.error
        return [node["name"] for node in report["nodes"]]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.walk():
            counts[node["name"]] = counts.get(node["name"], 0) + 1
        return counts

    def progress(self, what: str) -> list[float]:
        """Simulated times of the progress lines containing ``what``."""
        return [float(line[1:].split("s]")[0]) for line in self.stdout.splitlines() if what in line]


Execute = Callable[..., Run]


def run_command(*args: str, report_path: Path | None = None) -> Run:
    out, err = StringIO(), StringIO()
    argv = list(args)
    if report_path is not None:
        argv += ["--report", str(report_path)]
    returncode = 0
    try:
        call_command("selinon_execute", *argv, stdout=out, stderr=err)
    except CommandError as error:
        returncode = error.returncode
        err.write(str(error))
    report = None
    if report_path is not None and report_path.exists():
        report = json.loads(report_path.read_text(encoding="utf-8"))
    return Run(returncode, out.getvalue(), err.getvalue(), report)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_NODES, raising=False)
    monkeypatch.delenv(ENV_FLOWS, raising=False)
    tasks.ATTEMPTS.clear()
    tasks.STRATEGY_CALLS.clear()


@pytest.fixture
def execute(db: None, tmp_path: Path) -> Execute:
    counter = iter(range(1_000_000))

    def run(flow: str, node_args: Any = None, *extra: str) -> Run:
        args = ["-n", str(NODES), "-f", str(FLOWS), "--flow-name", flow, *extra]
        if node_args is not None:
            args += ["--node-args", json.dumps(node_args)]
        return run_command(*args, report_path=tmp_path / f"report-{next(counter)}.json")

    return run
