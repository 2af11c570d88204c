"""The optimistic hop on PostgreSQL: a finishing task records its end and the flow's next step
in one statement guarded by the ``state_version`` its claim read, and falls back to the locked
step - writing nothing twice - when another step got there first.

Messages are captured instead of published and served in this process by the same functions
the Celery tasks call, so every statement is the production one.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from selinon_django.config import SourceFile
from selinon_django.models import FlowRun, NodeRun, OutboxMessage, TraceEventRecord
from selinon_django.runtime import dispatcher, envelope, writes
from selinon_django.runtime.api import run_flow
from selinon_django.runtime.configs import forget_configs
from selinon_django.runtime.messages import DISPATCHER_TASK
from selinon_django.runtime.store import GuardFailed
from selinon_django.runtime.store import sql as store_sql
from selinon_django.runtime.store.postgresql import PostgresRunStore
from selinon_django.runtime.unit_of_work import UnitOfWork
from selinon_django.signals import flow_finished
from tests.unit.broker import CapturedBroker, install

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the optimistic hop is PostgreSQL's")

NODES = """\
tasks:
  - {name: A, import: tests.integration.tasks, classname: Noop}
  - {name: B, import: tests.integration.tasks, classname: Noop}
  - {name: C, import: tests.integration.tasks, classname: Noop}
  - {name: Bad, import: tests.integration.tasks, classname: Fatal}
flows: [chain, parallel, outer, failing, fan]
"""
FLOWS = """\
flow-definitions:
  - name: chain
    edges:
      - {from: [], to: [A]}
      - {from: [A], to: [B]}
      - {from: [B], to: [C]}
  - name: parallel
    edges:
      - {from: [], to: [A, B]}
      - {from: [A, B], to: [C]}
  - name: outer
    edges:
      - {from: [], to: [chain]}
  - name: fan
    edges:
      - from: []
        to: [A]
        foreach: {import: tests.integration.tasks, function: items}
  - name: failing
    edges:
      - {from: [], to: [A]}
      - {from: [A], to: [Bad]}
"""


@pytest.fixture
def broker(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[CapturedBroker]:
    yield install(monkeypatch, [SourceFile("nodes.yaml", "nodes", NODES), SourceFile("flows.yaml", "flows", FLOWS)])
    forget_configs()


def _statements(action: Callable[[], Any]) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        action()
    return [q["sql"] for q in queries.captured_queries]


def test_a_chain_hop_is_the_claim_and_one_statement(broker: CapturedBroker) -> None:
    run_id = run_flow("chain")
    version = FlowRun.objects.get(pk=run_id).state_version
    statements = _statements(lambda: broker.serve(broker.take("A")))
    assert len(statements) == 2, statements  # the claim, then the guarded write
    assert "pg_try_advisory_lock" in statements[0] and "1 / (SELECT count(*)" in statements[1]
    run = FlowRun.objects.get(pk=run_id)
    assert run.state_version == version + 1 and run.status == "running"
    assert dict(NodeRun.objects.filter(flow_run_id=run_id).values_list("name", "status")) == {
        "A": "succeeded", "B": "sent"}
    assert [m.kwargs["task_name"] for m in broker.queue] == ["B"]
    assert OutboxMessage.objects.count() == 0  # the node-run row records the message
    # the task's own events and the step's, once each
    events = list(TraceEventRecord.objects.filter(flow_run_id=run_id).values_list("event", flat=True))
    assert events.count("TASK_START") == 1 and events.count("NODE_SUCCESSFUL") == 1


def test_the_hop_statements_are_prepared_once_per_connection(broker: CapturedBroker) -> None:
    """The settings prepare statements a connection repeats (Django's default never does): after
    a few hops the claim and the guarded write run as prepared statements, planned once."""
    assert connection.settings_dict["OPTIONS"].get("prepare_threshold") is not None
    for _ in range(8):
        run_flow("chain")
        broker.drain()
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("pg_try_advisory_lock" in text for text in prepared), prepared
    assert any("1 / (SELECT count(*)" in text for text in prepared), prepared


def test_a_root_run_ends_optimistically_and_is_announced(broker: CapturedBroker) -> None:
    announced: list[tuple[str, str]] = []

    def receiver(sender: Any, run: Any, status: str, **kwargs: Any) -> None:
        announced.append((run.pk, status))

    flow_finished.connect(receiver, weak=False)
    try:
        run_id = run_flow("chain")
        broker.serve(broker.take("A"))
        broker.serve(broker.take("B"))
        statements = _statements(lambda: broker.serve(broker.take("C")))
    finally:
        flow_finished.disconnect(receiver)
    assert "1 / (SELECT count(*)" in statements[1]
    assert FlowRun.objects.get(pk=run_id).status == "succeeded"
    assert announced == [(run_id, "succeeded")]
    assert not broker.queue


def test_a_step_in_between_makes_the_hop_take_the_locked_path(broker: CapturedBroker) -> None:
    run_id = run_flow("parallel")
    a, b = broker.take("A"), broker.take("B")
    # A is claimed (its snapshot read), then B finishes and steps the run before A records
    original = envelope._run_started

    def interleaved(*args: Any, **kwargs: Any) -> Any:
        envelope._run_started = original
        broker.serve(b)
        return original(*args, **kwargs)

    envelope._run_started = interleaved
    try:
        guard_failures: list[int] = []
        execute = PostgresRunStore._execute_guarded

        def counting(self: PostgresRunStore, batch: writes.Batch, returning: Any) -> Any:
            try:
                return execute(self, batch, returning)
            except GuardFailed:
                guard_failures.append(1)
                raise

        PostgresRunStore._execute_guarded = counting  # type: ignore[method-assign]
        try:
            broker.serve(a)
        finally:
            PostgresRunStore._execute_guarded = execute  # type: ignore[method-assign]
    finally:
        envelope._run_started = original
    assert guard_failures == [1]  # A's optimistic write lost the race and wrote nothing
    rows = list(NodeRun.objects.filter(flow_run_id=run_id).values_list("name", "status"))
    assert sorted(rows) == [("A", "succeeded"), ("B", "succeeded"), ("C", "sent")]  # C once
    events = list(TraceEventRecord.objects.filter(flow_run_id=run_id, node_run_id=a.options["task_id"])
                  .values_list("event", flat=True))
    assert events.count("TASK_START") == 1 and events.count("TASK_END") == 1  # not written twice
    broker.drain()
    assert FlowRun.objects.get(pk=run_id).status == "succeeded"


def test_a_sub_flow_ends_under_its_parents_lock(broker: CapturedBroker) -> None:
    run_id = run_flow("outer")
    broker.drain()
    outer = FlowRun.objects.get(pk=run_id)
    child = FlowRun.objects.get(parent_run_id=run_id)
    assert (outer.status, child.status) == ("succeeded", "succeeded")
    assert NodeRun.objects.get(flow_run_id=run_id).status == "succeeded"


def test_a_failing_flow_fails_through_the_optimistic_hop(broker: CapturedBroker) -> None:
    run_id = run_flow("failing")
    broker.drain()
    run = FlowRun.objects.get(pk=run_id)
    assert run.status == "failed" and run.result is not None and run.result["failed_nodes"].keys() == {"Bad"}


def test_a_guarded_batch_whose_guard_misses_writes_nothing(broker: CapturedBroker) -> None:
    run_id = run_flow("chain")
    batch = writes.Batch()
    batch.update_where(FlowRun, {"error": "must not be written"}, "id = %s", (run_id,), FlowRun.objects.none)
    batch.update_where(FlowRun, {"state_version": 100}, "id = %s AND state_version = %s", (run_id, 99),
                       FlowRun.objects.none, guard=True)
    with pytest.raises(GuardFailed):
        batch.execute()
    assert FlowRun.objects.get(pk=run_id).error == ""


def test_run_flow_runs_the_first_step_and_sends_the_first_tasks(broker: CapturedBroker) -> None:
    run_id = run_flow("parallel")
    run = FlowRun.objects.get(pk=run_id)
    assert (run.status, run.state_version, run.started_at is not None) == ("running", 1, True)
    assert sorted(m.kwargs["task_name"] for m in broker.queue) == ["A", "B"]
    assert all(m.task_name != DISPATCHER_TASK for m in broker.queue)


def test_without_inline_start_a_dispatcher_takes_the_first_step(broker: CapturedBroker, settings: Any) -> None:
    settings.SELINON_DJANGO = {**settings.SELINON_DJANGO, "START_INLINE": False}
    run_id = run_flow("chain")
    assert [m.task_name for m in broker.queue] == [DISPATCHER_TASK]
    assert FlowRun.objects.get(pk=run_id).status == "pending"
    broker.drain()
    assert FlowRun.objects.get(pk=run_id).status == "succeeded"


def test_a_first_step_that_raises_goes_to_a_dispatcher(broker: CapturedBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = dispatcher.step_locked

    def failing_once(run: Any, **kwargs: Any) -> Any:
        calls.append(run.pk)
        if len(calls) == 1:
            NodeRun.objects.create(id="half-written", flow_run=run, name="A")  # undone with the savepoint
            raise RuntimeError("user code of the first step failed")
        return original(run, **kwargs)

    monkeypatch.setattr(dispatcher, "step_locked", failing_once)
    caller = UnitOfWork()
    caller.enqueue("caller.message", {"kept": True})  # a caller's own work is not touched by the fallback
    run_id = run_flow("chain")
    assert [m.task_name for m in caller.messages] == ["caller.message"]
    assert [m.task_name for m in broker.queue] == [DISPATCHER_TASK]
    run = FlowRun.objects.get(pk=run_id)
    assert run.status == "pending" and not NodeRun.objects.filter(pk="half-written").exists()
    broker.drain()
    assert FlowRun.objects.get(pk=run_id).status == "succeeded"


def test_a_task_of_a_big_run_ends_in_one_statement_and_wakes_its_dispatcher(
    broker: CapturedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(envelope, "SNAPSHOT_MAX_BYTES", 0)  # every run counts as big
    run_id = run_flow("parallel")
    a, b = broker.take("A"), broker.take("B")
    statements = _statements(lambda: broker.serve(a))
    assert len(statements) == 2 and "FOR UPDATE" in statements[1], statements
    assert [(m.task_name, m.kwargs["reason"]) for m in broker.queue] == [(DISPATCHER_TASK, "node finished")]
    assert FlowRun.objects.get(pk=run_id).next_wakeup_at is not None  # pending: recorded by the row
    broker.serve(b)  # a wake-up is pending: B only records its end
    assert [m.task_name for m in broker.queue] == [DISPATCHER_TASK]
    broker.drain()
    run = FlowRun.objects.get(pk=run_id)
    assert run.status == "succeeded"
    assert sorted(NodeRun.objects.filter(flow_run_id=run_id).values_list("name", "status")) == [
        ("A", "succeeded"), ("B", "succeeded"), ("C", "succeeded")]
    events = list(TraceEventRecord.objects.filter(node_run_id=a.options["task_id"]).values_list("event", flat=True))
    assert events.count("TASK_END") == 1


def test_a_big_first_step_writes_its_trace_rows(broker: CapturedBroker) -> None:
    count = store_sql.COPY_ROWS + 50
    run_id = run_flow("fan", {"count": count})
    events = TraceEventRecord.objects.filter(flow_run_id=run_id)
    assert events.filter(event="TASK_SCHEDULE").count() == count  # written with the step
    first = events.filter(event="TASK_SCHEDULE").first()
    assert first is not None and first.details["task_name"] == "A" and first.node_run_id
    assert NodeRun.objects.filter(flow_run_id=run_id, status="sent").count() == count
    broker.drain()
    assert FlowRun.objects.get(pk=run_id).status == "succeeded"
    assert events.filter(event="TASK_END").count() == count


def test_a_foreach_bigger_than_one_statement_starts(broker: CapturedBroker) -> None:
    count = store_sql.MAX_PARAMS // 20  # node-run rows with their ~20 columns need several statements
    run_id = run_flow("fan", {"count": count})
    assert FlowRun.objects.get(pk=run_id).status == "running"  # the first step ran inline, not refused
    assert NodeRun.objects.filter(flow_run_id=run_id, status="sent").count() == count
    carried = [[m.options["task_id"], *(item["id"] for item in m.kwargs.get("batch", ()))] for m in broker.queue]
    assert sorted(i for ids in carried for i in ids) == sorted(
        NodeRun.objects.filter(flow_run_id=run_id).values_list("id", flat=True))  # each node in one message
