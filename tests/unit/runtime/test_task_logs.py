"""Task logs: what a task logs is kept with its node run, in batches, bounded, masked, per attempt,
and a failure is an ERROR line in the worker's log.

Messages are captured instead of published and served in this process by the functions the
Celery tasks call (tests/unit/broker.py), so the capture runs where a worker runs it.
"""
from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from selinon_django.config import SourceFile
from selinon_django.models import FlowRun, NodeRun, NodeRunLog
from selinon_django.runtime.api import run_flow
from selinon_django.runtime.configs import forget_configs
from tests.unit.broker import CapturedBroker, install

NODES = """\
tasks:
  - {name: Chatty, import: tests.integration.log_tasks, classname: Chatty}
  - {name: Silent, import: tests.integration.log_tasks, classname: Silent}
  - {name: Flood, import: tests.integration.log_tasks, classname: Flood}
  - {name: Fails, import: tests.integration.log_tasks, classname: LogsThenFails}
  - {name: FailsTwice, import: tests.integration.log_tasks, classname: LogsThenFails, max_retry: 1}
flows: [chatty, silent, flood, fails, fails_twice]
"""
FLOWS = """\
flow-definitions:
  - {name: chatty, edges: [{from: [], to: [Chatty]}]}
  - {name: silent, edges: [{from: [], to: [Silent]}]}
  - {name: flood, edges: [{from: [], to: [Flood]}]}
  - {name: fails, edges: [{from: [], to: [Fails]}]}
  - {name: fails_twice, edges: [{from: [], to: [FailsTwice]}]}
"""


@pytest.fixture
def broker(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[CapturedBroker]:
    yield install(monkeypatch, [SourceFile("nodes.yaml", "nodes", NODES), SourceFile("flows.yaml", "flows", FLOWS)])
    forget_configs()


@pytest.fixture(autouse=True)
def info_reaches_handlers() -> Iterator[None]:
    """The root logger at INFO, as a worker started with ``-l info`` has it."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    yield
    root.setLevel(level)


def run_through(broker: CapturedBroker, flow: str, node_args: Any = None) -> str:
    run_id = run_flow(flow, node_args)
    broker.drain()
    return run_id


def messages_of(node: NodeRun) -> list[str]:
    return [line.message for batch in NodeRunLog.objects.filter(node_run_id=node.pk) for line in batch.entries()]


def test_self_log_and_module_loggers_are_kept_with_the_node_run_masked(broker: CapturedBroker) -> None:
    run_id = run_through(broker, "chatty", {"lines": 3})
    node = NodeRun.objects.get(flow_run_id=run_id, name="Chatty")
    assert node.status == "succeeded"
    batches = list(NodeRunLog.objects.filter(node_run_id=node.pk))
    assert len(batches) == 1  # one batch, not one row per line
    assert batches[0].flow_run_id == run_id and batches[0].attempt == 1
    lines = batches[0].entries()
    assert [(line.level, line.message) for line in lines] == [
        ("INFO", "step 1 of Chatty"),
        ("INFO", "step 2 of Chatty"),
        ("INFO", "step 3 of Chatty"),
        ("WARNING", "connecting to redis://:********@cache.example:6379/0"),
    ]
    assert lines[0].logger == "tests.integration.log_tasks.Chatty"
    assert lines[3].logger == "tests.integration.log_tasks.library"
    assert "hunter2" not in str(batches[0].lines)
    assert batches[0].size == sum(len(line.message) for line in lines)


def test_a_task_that_logs_nothing_costs_no_query_and_no_row(broker: CapturedBroker) -> None:
    def queries_of_one_run() -> int:
        run_id = run_flow("silent")
        with CaptureQueriesContext(connection) as queries:
            broker.drain()
        assert FlowRun.objects.get(pk=run_id).status == "succeeded"
        return len(queries.captured_queries)

    with override_settings(SELINON_DJANGO={"TASK_LOGS": False}):
        without = queries_of_one_run()
    with_logs = queries_of_one_run()
    assert with_logs == without
    assert not NodeRunLog.objects.exists()


def test_logs_off_keep_nothing(broker: CapturedBroker) -> None:
    with override_settings(SELINON_DJANGO={"TASK_LOGS": False}):
        run_through(broker, "chatty")
    assert not NodeRunLog.objects.exists()


def test_the_level_setting_filters(broker: CapturedBroker) -> None:
    with override_settings(SELINON_DJANGO={"TASK_LOG_LEVEL": "warning"}):
        run_id = run_through(broker, "chatty")
    node = NodeRun.objects.get(flow_run_id=run_id)
    assert messages_of(node) == ["connecting to redis://:********@cache.example:6379/0"]


def test_many_lines_go_in_a_few_batches(broker: CapturedBroker) -> None:
    run_id = run_through(broker, "flood", {"lines": 1000, "width": 10})
    node = NodeRun.objects.get(flow_run_id=run_id)
    batches = NodeRunLog.objects.filter(node_run_id=node.pk)
    assert 1 < batches.count() <= 10
    assert messages_of(node) == [f"{index:05d} {'x' * 10}" for index in range(1000)]


@override_settings(SELINON_DJANGO={"TASK_LOG_MAX_BYTES": 2048})
def test_a_node_keeps_at_most_the_bound_and_says_what_it_dropped(broker: CapturedBroker) -> None:
    run_id = run_through(broker, "flood", {"lines": 100, "width": 94})  # 100 lines of 100 bytes
    node = NodeRun.objects.get(flow_run_id=run_id)
    messages = messages_of(node)
    kept = messages[:-1]
    assert sum(len(m) for m in kept) == 2048
    assert kept[:20] == [f"{index:05d} {'x' * 94}" for index in range(20)]
    assert kept[20] == "00020 " + "x" * 42  # the line that crosses the bound is cut at it
    assert messages[-1] == (
        "[log truncated: this node run keeps at most 2048 bytes of log text (TASK_LOG_MAX_BYTES); "
        "79 more line(s), 7952 byte(s) not kept]"
    )
    assert sum(NodeRunLog.objects.filter(node_run_id=node.pk).values_list("size", flat=True)) == 2048


def test_each_attempt_is_kept_with_its_number_and_the_exception_line(broker: CapturedBroker) -> None:
    run_id = run_through(broker, "fails_twice")
    node = NodeRun.objects.get(flow_run_id=run_id)
    assert node.status == "failed" and node.attempts == 2
    batches = list(NodeRunLog.objects.filter(node_run_id=node.pk))
    assert [batch.attempt for batch in batches] == [1, 2]
    first = batches[0].entries()
    assert first[0].message == "about to fail"
    assert first[1].level == "ERROR" and first[1].message.startswith("handled a KeyError\nTraceback")
    assert "KeyError: 'missing'" in first[1].message


def test_a_failed_node_is_an_error_line_in_the_worker_log(
    broker: CapturedBroker, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="selinon_django.runtime.execution"):
        run_id = run_through(broker, "fails")
    node = NodeRun.objects.get(flow_run_id=run_id)
    errors = [r for r in caplog.records if r.name == "selinon_django.runtime.execution" and r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        f"flow fails node Fails (task id {node.pk}) of run {run_id} failed: "
        "ValueError: broken by postgres://app:********@db.example/prod"
    ]
    # the line is the worker's, not the node's: its log ends with what the task logged
    assert messages_of(node)[-1].startswith("handled a KeyError")


def test_a_retried_node_is_a_warning_line(broker: CapturedBroker, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="selinon_django.runtime.execution"):
        run_id = run_through(broker, "fails_twice")
    node = NodeRun.objects.get(flow_run_id=run_id)
    levels = [(r.levelname, r.getMessage().split(":")[0]) for r in caplog.records
              if r.name == "selinon_django.runtime.execution"]
    where = f"flow fails_twice node FailsTwice (task id {node.pk}) of run {run_id}"
    assert levels == [("WARNING", f"{where} raised, retry 1 of 1 in 0 s"), ("ERROR", f"{where} failed")]


def test_prune_deletes_the_logs_with_their_run(broker: CapturedBroker) -> None:
    old = run_through(broker, "chatty")
    FlowRun.objects.filter(pk=old).update(finished_at=FlowRun.objects.get(pk=old).finished_at.replace(year=2000))
    kept = run_through(broker, "chatty")
    assert NodeRunLog.objects.filter(flow_run_id=old).exists()
    call_command("selinon_prune", "--older-than", "1", stdout=io.StringIO())
    assert not NodeRunLog.objects.filter(flow_run_id=old).exists()
    assert NodeRunLog.objects.filter(flow_run_id=kept).exists()
