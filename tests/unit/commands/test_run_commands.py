"""``selinon_run``, ``selinon_cancel``, ``selinon_retry`` and ``selinon_prune``: what they do to the
rows, what they print, and how they refuse bad input.

Messages are captured instead of published and served in this process by the functions the
Celery tasks call (``--wait`` serves them where it would sleep), so every statement is the
production one; real workers run these flows in tests/integration.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_celery_results.models import TaskResult

from selinon_django.config import SourceFile
from selinon_django.management.commands import selinon_run
from selinon_django.models import FlowRun, NodeRun, TraceEventRecord
from selinon_django.runtime.api import run_flow
from selinon_django.runtime.configs import forget_configs
from tests.unit.broker import CapturedBroker, install

CONFIG = """\
tasks:
  - {name: A, import: tests.integration.tasks, classname: Noop}
  - {name: B, import: tests.integration.tasks, classname: Noop}
  - {name: Bad, import: tests.integration.tasks, classname: Fatal}
flows: [chain, outer, failing]
flow-definitions:
  - name: chain
    edges:
      - {from: [], to: [A]}
      - {from: [A], to: [B]}
  - name: outer
    edges:
      - {from: [], to: [chain]}
  - name: failing
    edges:
      - {from: [], to: [A]}
      - {from: [A], to: [Bad]}
"""


@pytest.fixture
def broker(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[CapturedBroker]:
    yield install(monkeypatch, [SourceFile("all.yaml", "nodes", CONFIG)])
    forget_configs()


def run(*argv: str) -> tuple[int, str, str]:
    """``call_command`` with its exit status (0 unless it exited or refused) and its output; a
    ``CommandError``'s message is what the command line would print on stderr."""
    out, err = StringIO(), StringIO()
    try:
        call_command(*argv, stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue(), err.getvalue()
    except CommandError as error:
        return error.returncode, out.getvalue(), err.getvalue() + str(error)
    return 0, out.getvalue(), err.getvalue()


# --- selinon_run ---------------------------------------------------------------------------


def test_run_starts_the_flow_and_prints_its_id(broker: CapturedBroker) -> None:
    status, out, _ = run("selinon_run", "chain", "--node-args", '{"x": 1}')
    assert status == 0
    run_id = out.strip().removeprefix("started chain: ")
    row = FlowRun.objects.get(pk=run_id)
    assert (row.flow_name, row.node_args, row.status) == ("chain", {"x": 1}, "running")
    assert [m.kwargs["task_name"] for m in broker.queue] == ["A"]


def test_run_wait_prints_the_tree_and_writes_the_report(
    broker: CapturedBroker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(selinon_run.time, "sleep", lambda _: broker.drain())  # the workers run while it waits
    report = tmp_path / "report.json"
    status, out, _ = run("selinon_run", "outer", "--wait", "--report", str(report))
    assert status == 0
    assert "outer" in out and "chain" in out and "A" in out and "B" in out
    written = json.loads(report.read_text())
    run_id = out.splitlines()[0].removeprefix("started outer: ")
    assert FlowRun.objects.get(pk=run_id).status == "succeeded"
    assert json.dumps(written).count('"succeeded"') >= 3  # the run, its sub-flow and their tasks


def test_run_wait_exits_1_when_the_flow_fails(broker: CapturedBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selinon_run.time, "sleep", lambda _: broker.drain())
    status, out, _ = run("selinon_run", "failing", "--wait")
    assert status == 1
    assert "Bad" in out and "failed" in out


def test_run_wait_times_out_with_exit_1(broker: CapturedBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selinon_run.time, "sleep", lambda _: None)  # no worker serves anything
    status, _, err = run("selinon_run", "chain", "--wait", "--timeout", "0")
    assert status == 1
    assert "timed out" in err and "running" in err


def test_run_selective_starts_only_what_leads_to_the_named_task(broker: CapturedBroker) -> None:
    status, out, _ = run("selinon_run", "chain", "--selective-task-names", "A")
    assert status == 0
    row = FlowRun.objects.get(pk=out.strip().removeprefix("started chain: "))
    assert row.selective and row.selective["task_names"] == ["A"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nope"], "nope"),
        (["chain", "--node-args", "{not json"], "node_args: not valid JSON"),
        (["chain", "--node-args", "{}", "--node-args-file", "x.json"], "not both"),
        (["chain", "--node-args-file", "/nonexistent/args.json"], "cannot read node_args from /nonexistent/args.json"),
        (["chain", "--selective-task-names", "Bad"], "Bad"),
        (["chain", "--node-args", "[" * 100_000 + "]" * 100_000], "nested more than 64 levels deep"),
        (["chain", "--node-args", '{"a": "\\u0000"}'], "NUL"),
        (["chain", "--node-args", '{"\\u0000": 1}'], "NUL"),
        (["chain", "--node-args", "[NaN]"], "NaN is not a JSON number"),
        (["chain", "--node-args", "1e999"], "too large"),
        (["chain", "--node-args", '"\\ud800"'], "surrogate"),
        (["chain", "--node-args", '"\udcff"'], "not UTF-8"),
        (["chain", "--node-args", "1" * 5000], "too many digits"),
    ],
    ids=["unknown-flow", "bad-json", "both-args", "missing-file", "no-path", "deep", "nul-value", "nul-key", "nan",
         "float-overflow", "surrogate-escape", "argv-not-utf8", "digits"],
)
def test_run_refuses_bad_input_with_exit_2_and_starts_nothing(
    broker: CapturedBroker, argv: list[str], message: str
) -> None:
    status, _, err = run("selinon_run", *argv)
    assert status == 2
    assert message in err
    assert not FlowRun.objects.exists() and not broker.queue


@pytest.mark.parametrize("timeout", ["nan", "inf", "-1", "1e400", "forever"])
def test_run_refuses_a_timeout_that_is_not_a_finite_number(broker: CapturedBroker, timeout: str) -> None:
    with pytest.raises(CommandError, match="--timeout"):
        call_command("selinon_run", "chain", "--wait", "--timeout", timeout)
    assert not FlowRun.objects.exists()


def test_run_reads_no_more_of_a_node_args_file_than_the_limit(broker: CapturedBroker, settings: Any) -> None:
    settings.SELINON_DJANGO = {**getattr(settings, "SELINON_DJANGO", {}), "MAX_NODE_ARGS_BYTES": 1000}
    status, _, err = run("selinon_run", "chain", "--node-args-file", "/dev/zero")  # endless: read 1,001 bytes
    assert status == 2 and "/dev/zero: more than MAX_NODE_ARGS_BYTES (1000)" in err
    assert not FlowRun.objects.exists()


def test_run_refuses_node_args_over_the_limit(broker: CapturedBroker, settings: Any) -> None:
    settings.SELINON_DJANGO = {**getattr(settings, "SELINON_DJANGO", {}), "MAX_NODE_ARGS_BYTES": 10}
    status, _, err = run("selinon_run", "chain", "--node-args", '{"x": "0123456789"}')
    assert status == 2 and "MAX_NODE_ARGS_BYTES" in err
    assert not FlowRun.objects.exists()


# --- selinon_cancel and selinon_retry ------------------------------------------------------


def test_cancel_revokes_the_run_and_its_unfinished_nodes(broker: CapturedBroker) -> None:
    run_id = run_flow("chain")
    status, out, _ = run("selinon_cancel", run_id)
    assert status == 0 and f"cancelled {run_id} (1 node run(s) revoked)" in out
    assert FlowRun.objects.get(pk=run_id).status == "revoked"
    assert dict(NodeRun.objects.filter(flow_run_id=run_id).values_list("name", "status")) == {"A": "revoked"}
    broker.drain()  # the task's message arrives after all: nothing runs
    assert dict(NodeRun.objects.filter(flow_run_id=run_id).values_list("name", "status")) == {"A": "revoked"}


def test_cancel_refuses_unknown_and_finished_runs(broker: CapturedBroker) -> None:
    with pytest.raises(CommandError, match="no flow run nope"):
        call_command("selinon_cancel", "nope")
    run_id = run_flow("chain")
    broker.drain()
    with pytest.raises(CommandError, match="already succeeded"):
        call_command("selinon_cancel", run_id)


def test_retry_reruns_the_failed_node_and_keeps_what_succeeded(broker: CapturedBroker) -> None:
    run_id = run_flow("failing")
    broker.drain()
    assert FlowRun.objects.get(pk=run_id).status == "failed"
    status, out, _ = run("selinon_retry", run_id)
    assert status == 0 and f"retrying {run_id}" in out
    assert FlowRun.objects.get(pk=run_id).status == "running"
    assert [m.kwargs["task_name"] for m in broker.queue] == ["Bad"]
    broker.drain()  # Bad fails again
    rows = list(NodeRun.objects.filter(flow_run_id=run_id).order_by("created_at").values_list("name", "status"))
    assert rows == [("A", "succeeded"), ("Bad", "failed"), ("Bad", "failed")]


def test_retry_refuses_runs_that_did_not_fail(broker: CapturedBroker) -> None:
    with pytest.raises(CommandError, match="no flow run nope"):
        call_command("selinon_retry", "nope")
    run_id = run_flow("chain")
    with pytest.raises(CommandError, match="only a failed run can be retried"):
        call_command("selinon_retry", run_id)


# --- selinon_prune -------------------------------------------------------------------------


def _finished_run(broker: CapturedBroker, flow: str, days_ago: float) -> str:
    run_id = run_flow(flow)
    broker.drain()
    finished = timezone.now() - timedelta(days=days_ago)
    FlowRun.objects.filter(root_run_id=run_id).update(finished_at=finished)
    FlowRun.objects.filter(pk=run_id).update(finished_at=finished)
    return run_id


def test_prune_deletes_old_finished_trees_in_batches_and_keeps_the_rest(broker: CapturedBroker) -> None:
    old = [_finished_run(broker, "outer", days_ago=10) for _ in range(3)]
    recent = _finished_run(broker, "outer", days_ago=1)
    running = run_flow("chain")  # started long ago, still running: never pruned
    FlowRun.objects.filter(pk=running).update(created_at=timezone.now() - timedelta(days=30))
    old_children = list(FlowRun.objects.filter(root_run_id__in=old).values_list("pk", flat=True))
    assert len(old_children) == 3
    assert TaskResult.objects.filter(task_id__in=[*old, *old_children]).count() == 6  # their outcomes

    status, out, _ = run("selinon_prune", "--older-than", "5", "--batch-size", "2")
    assert status == 0 and "deleted 3 flow run(s)" in out
    assert set(FlowRun.objects.filter(parent_run_id=None).values_list("pk", flat=True)) == {recent, running}
    assert not FlowRun.objects.filter(pk__in=old_children).exists()
    assert not NodeRun.objects.filter(flow_run_id__in=[*old, *old_children]).exists()
    assert not TraceEventRecord.objects.filter(flow_run_id__in=[*old, *old_children]).exists()
    assert NodeRun.objects.filter(flow_run_id=recent).exists()
    # the result backend forgot the pruned runs' outcomes, not the others'
    assert not TaskResult.objects.filter(task_id__in=[*old, *old_children]).exists()
    assert TaskResult.objects.filter(task_id=recent).exists()


def test_prune_dry_run_counts_and_deletes_nothing(broker: CapturedBroker) -> None:
    _finished_run(broker, "chain", days_ago=10)
    status, out, _ = run("selinon_prune", "--older-than", "5", "--dry-run")
    assert status == 0 and "would delete 1 flow run(s)" in out
    assert FlowRun.objects.count() == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--older-than", "-1"], "--older-than: '-1' must be a number from 0 to"),
        (["--older-than", "nan"], "--older-than: 'nan' must be a number"),
        (["--older-than", "inf"], "--older-than: 'inf' must be a number"),
        (["--older-than", "1e308"], "--older-than: '1e308' must be a number"),
        (["--older-than", "abc"], "--older-than: 'abc' is not a number"),
        (["--older-than", "1", "--batch-size", "0"], "--batch-size: 0 is out of range"),
        (["--older-than", "1", "--batch-size", "9" * 5000], "--batch-size: .* is not a whole number"),
        (["--older-than", "1", "--batch-size", str(2**64)], "--batch-size: 18446744073709551616 is out of range"),
    ],
)
def test_prune_refuses_bad_arguments(broker: CapturedBroker, argv: list[str], message: str) -> None:
    finished = run_flow("chain", None)
    FlowRun.objects.filter(pk=finished).update(status="succeeded", finished_at=timezone.now() - timedelta(days=800))
    with pytest.raises(CommandError, match=message):
        call_command("selinon_prune", *argv)
    assert FlowRun.objects.filter(pk=finished).exists()


def test_prune_takes_the_largest_age_it_allows(broker: CapturedBroker) -> None:
    status, out, _ = run("selinon_prune", "--older-than", "365250", "--dry-run")
    assert status == 0 and "would delete 0 flow run(s)" in out


def test_forget_outcomes_on_other_result_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from selinon_django.runtime import results

    forgotten: list[str] = []

    class Forgetful:
        def forget(self, task_id: str) -> None:
            forgotten.append(task_id)

    class Disabled:
        def forget(self, task_id: str) -> None:
            raise NotImplementedError("backend does not implement forget.")

    monkeypatch.setattr(results, "get_celery_app", lambda: SimpleNamespace(backend=Forgetful()))
    assert results.forget_outcomes(["r1", "r2"]) == 2 and forgotten == ["r1", "r2"]
    assert results.forget_outcomes([]) == 0
    monkeypatch.setattr(results, "get_celery_app", lambda: SimpleNamespace(backend=Disabled()))
    assert results.forget_outcomes(["r3"]) == 0  # left alone, no error


@pytest.mark.parametrize(
    "argv",
    [
        ["selinon_cancel", "run\x00id"],
        ["selinon_retry", "run\udcffid"],  # a shell's bytes that are not UTF-8
        ["selinon_run", "ch\x00ain"],
        ["selinon_run", "chain", "--selective-task-names", "A\udcff"],
        ["selinon_fire", "session\x00", "go"],
        ["selinon_fire", "session", "go\udcff"],
    ],
    ids=["cancel-nul", "retry-not-utf8", "run-nul", "selective-not-utf8", "fire-session-nul", "fire-trigger-not-utf8"],
)
def test_names_and_ids_the_database_cannot_hold_are_refused(broker: CapturedBroker, argv: list[str]) -> None:
    with pytest.raises(CommandError, match="NUL character or bytes that are not UTF-8"):
        call_command(*argv)
    assert not FlowRun.objects.exists()
