"""The three reference examples (../shared/examples) reproduced at the engine level.

Each flow is simulated with tasks that behave like ``example_tasks`` (``Step`` returns a dict
with ``foo: bar``, ``Fail`` raises) and the resulting report is compared with the reference's
report by the examples' own ``compare_reports.canon`` (names, counts, parents, node_args,
attempts and statuses; ids and order ignored).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from selinon_django.config import load_config
from selinon_django.engine.testing import Simulator, TaskCall

from .scenario import PlannedFailure

EXAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "examples"

pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="../shared/examples not available")


def simulate(example: str) -> tuple[dict[str, Any], dict[str, Any]]:
    directory = EXAMPLES / example
    config = load_config([directory / "nodes.yaml"], [directory / "flows.yaml"])
    scenario = json.loads((directory / "scenario.json").read_text())

    def behaviour(call: TaskCall) -> Any:
        if config.tasks[call.name].classname == "Fail":
            raise PlannedFailure(f"planned failure in {call.name}")
        return {"task": call.name, "foo": "bar", "n": 1}

    run = Simulator(config, behaviour).run(scenario["flow"], scenario["node_args"])
    expected = json.loads((directory / "expected-report.json").read_text())
    return run.report(), expected


@pytest.mark.parametrize("example", ["docs_flow1", "fallback_in_subflow", "foreach_subflows"])
def test_example_matches_the_reference_report(example: str) -> None:
    from compare_reports import canon  # ../shared/examples, see tests/conftest.py

    ours, expected = simulate(example)
    assert canon(ours) == canon(expected)


def test_docs_flow1_details() -> None:
    ours, _ = simulate("docs_flow1")
    by_name = {node["name"]: node for node in ours["nodes"]}
    assert by_name["Task2"]["parent"] == {"Task1": by_name["Task1"]["id"]}
    assert by_name["flow2"]["parent"] is None and by_name["flow2"]["node_args"] is None
    assert by_name["Task3"]["parent"] == {"Task2": by_name["Task2"]["id"]}


def test_fallback_in_subflow_details() -> None:
    ours, _ = simulate("fallback_in_subflow")
    inner = next(node for node in ours["nodes"] if node["name"] == "inner")["run"]
    risky, recover, after = inner["nodes"]
    assert (risky["name"], risky["status"], risky["attempts"]) == ("Risky", "failed", 2)
    assert (recover["name"], recover["parent"], recover["node_args"]) == ("Recover", None, {"order": 7})
    assert (after["name"], after["parent"]) == ("After", {"Recover": recover["id"]})
