"""Successors run inline by the worker process that finished the task before them
(``RUN_SUCCESSORS_INLINE``, selinon_django/runtime/continuations.py): which ones, what is
written, and what happens when the process running them dies (PostgreSQL: it rides on the
optimistic hop)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from selinon_django.config import SourceFile
from selinon_django.models import FlowRun, NodeRun, TraceEventRecord
from selinon_django.runtime import envelope, outbox
from selinon_django.runtime.api import cancel_flow, run_flow
from selinon_django.runtime.configs import forget_configs
from tests.unit.broker import CapturedBroker, install

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="inline successors are PostgreSQL's")

QUEUE = "selinon_tasks"
NODES = f"""\
global:
  default_task_queue: {QUEUE}
tasks:
  - {{name: A, import: tests.integration.tasks, classname: Noop}}
  - {{name: B, import: tests.integration.tasks, classname: Noop}}
  - {{name: C, import: tests.integration.tasks, classname: Noop}}
  - {{name: Elsewhere, import: tests.integration.tasks, classname: Noop, queue: other_tasks}}
  - {{name: Limited, import: tests.integration.tasks, classname: Noop, time_limit: 30}}
flows: [chain, fork, routed, limited]
"""
FLOWS = """\
flow-definitions:
  - name: chain
    edges:
      - {from: [], to: [A]}
      - {from: [A], to: [B]}
      - {from: [B], to: [C]}
  - name: fork
    edges:
      - {from: [], to: [A]}
      - {from: [A], to: [B, C]}
  - name: routed
    edges:
      - {from: [], to: [A]}
      - {from: [A], to: [Elsewhere]}
  - name: limited
    edges:
      - {from: [], to: [A]}
      - {from: [A], to: [Limited]}
"""


class Crash(BaseException):
    """Stands for the worker process dying in the middle of a task (nothing catches it)."""


@pytest.fixture
def broker(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[CapturedBroker]:
    yield install(monkeypatch, [SourceFile("nodes.yaml", "nodes", NODES), SourceFile("flows.yaml", "flows", FLOWS)])
    forget_configs()


def deliver(message: outbox.Message, *, time_limited: bool = False) -> envelope.EnvelopeResult:
    """Serve a task message as a worker consuming its queue does."""
    return envelope.handle_message(message.options["task_id"], message.kwargs, hostname="w1",
                                   queue=message.options["queue"], time_limited=time_limited)


def nodes(run_id: str) -> dict[str, tuple[str, str | None, int, str]]:
    rows = NodeRun.objects.filter(flow_run_id=run_id).values_list("name", "status", "carried_by", "attempts", "worker")
    return {name: (status, carrier, attempts, worker) for name, status, carrier, attempts, worker in rows}


def statements(action: Callable[[], Any]) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        action()
    return [q["sql"] for q in queries.captured_queries]


def test_a_chain_runs_to_its_end_under_its_first_message(broker: CapturedBroker) -> None:
    run_id = run_flow("chain")
    first = broker.take("A")
    a = first.options["task_id"]
    sql = statements(lambda: deliver(first))
    # the claim, then one statement per task: its end, the step and the successor started (then
    # the run's end: its outcome stored, the trigger cascade's lookup)
    assert "WITH lk AS" in sql[0] and all("1 / (SELECT count(*)" in s for s in sql[1:4]), sql
    assert not any("1 / (SELECT count(*)" in s or "WITH lk AS" in s for s in sql[4:]), sql
    assert all("pg_try_advisory_lock" in s and "pg_advisory_unlock" in s for s in sql[1:3])
    assert not broker.queue  # nothing went through the broker
    assert nodes(run_id) == {"A": ("succeeded", None, 1, "w1"), "B": ("succeeded", a, 1, "w1"),
                             "C": ("succeeded", a, 1, "w1")}
    run = FlowRun.objects.get(pk=run_id)
    assert run.status == "succeeded"
    b = NodeRun.objects.get(flow_run_id=run_id, name="B")
    assert b.sent_at == b.received_at == b.started_at and b.finished_at is not None
    events = list(TraceEventRecord.objects.filter(flow_run_id=run_id).values_list("event", flat=True))
    assert events.count("TASK_START") == 3 and events.count("NODE_SUCCESSFUL") == 3
    with connection.cursor() as cursor:  # the last node's lock is kept until the next claim only
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        assert cursor.fetchone()[0] == 1


def test_one_successor_runs_inline_and_the_others_are_published(broker: CapturedBroker) -> None:
    run_id = run_flow("fork")
    deliver(broker.take("A"))
    [published] = broker.queue
    inline = {"B", "C"} - {published.kwargs["task_name"]}
    assert nodes(run_id)[inline.pop()][0] == "succeeded"
    assert nodes(run_id)[published.kwargs["task_name"]][:3] == ("sent", None, 0)
    deliver(broker.take())
    assert FlowRun.objects.get(pk=run_id).status == "succeeded"


@pytest.mark.parametrize("flow, successor", [("routed", "Elsewhere"), ("limited", "Limited")])
def test_a_successor_on_another_queue_or_with_time_limits_is_published(
    broker: CapturedBroker, flow: str, successor: str
) -> None:
    run_id = run_flow(flow)
    deliver(broker.take("A"))
    assert [m.kwargs["task_name"] for m in broker.queue] == [successor]
    assert nodes(run_id)[successor][:3] == ("sent", None, 0)


def test_a_message_with_a_time_limit_runs_no_successor(broker: CapturedBroker) -> None:
    run_id = run_flow("chain")
    deliver(broker.take("A"), time_limited=True)
    assert [m.kwargs["task_name"] for m in broker.queue] == ["B"]
    assert nodes(run_id)["B"][0] == "sent"


@pytest.mark.parametrize("options, published", [
    ({"RUN_SUCCESSORS_INLINE": False}, "B"),
    ({"INLINE_SUCCESSORS_MAX": 1}, "C"),
])
def test_the_settings_bound_inline_successors(
    broker: CapturedBroker, settings: Any, options: dict[str, Any], published: str
) -> None:
    settings.SELINON_DJANGO = {**getattr(settings, "SELINON_DJANGO", {}), **options}
    run_id = run_flow("chain")
    deliver(broker.take("A"))
    assert [m.kwargs["task_name"] for m in broker.queue] == [published]
    broker_message = broker.take()
    deliver(broker_message)
    broker.drain()
    assert FlowRun.objects.get(pk=run_id).status == "succeeded"


def crash_in(task_name: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the next attempt of ``task_name`` kill its 'process'; returns a list counting crashes."""
    crashes: list[int] = []
    original = envelope.run_attempt

    def run_attempt(*args: Any, **kwargs: Any) -> Any:
        if kwargs["task_name"] == task_name and not crashes:
            crashes.append(1)
            raise Crash
        return original(*args, **kwargs)

    monkeypatch.setattr(envelope, "run_attempt", run_attempt)
    return crashes


def test_the_carrier_delivered_again_after_its_process_died_resends_the_carried_node(
    broker: CapturedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = run_flow("chain")
    first = broker.take("A")
    crashes = crash_in("B", monkeypatch)
    with pytest.raises(Crash):
        deliver(first)
    assert crashes == [1] and not broker.queue
    assert nodes(run_id)["B"] == ("started", first.options["task_id"], 1, "w1")  # died while running
    assert deliver(first).action == "duplicate"  # the late-acknowledged message comes back
    [resent] = broker.queue
    assert resent.options["task_id"] == NodeRun.objects.get(flow_run_id=run_id, name="B").pk
    assert deliver(broker.take()).action == "lost"  # B's attempt is counted as lost ...
    broker_messages = list(broker.queue)
    assert [m.kwargs["task_name"] for m in broker_messages] == ["B"]
    deliver(broker.take())  # ... and run again, C inline after it
    b = NodeRun.objects.get(flow_run_id=run_id, name="B").pk
    assert nodes(run_id)["B"][:3] == ("succeeded", None, 2)  # its own message ran it
    assert nodes(run_id)["C"][:2] == ("succeeded", b)
    assert FlowRun.objects.get(pk=run_id).status == "succeeded"


def test_a_duplicate_of_the_carrier_leaves_a_carried_node_a_live_process_runs(
    broker: CapturedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = run_flow("chain")
    first = broker.take("A")
    crash_in("B", monkeypatch)
    with pytest.raises(Crash):
        deliver(first)
    b = NodeRun.objects.get(flow_run_id=run_id, name="B").pk
    # another session holds B's lock: a live process runs it
    with psycopg.connect(_dsn(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [envelope._lock_key(b)])
        assert deliver(first).action == "duplicate"
        assert not broker.queue
    assert deliver(first).action == "duplicate"  # that session ended: B is orphaned now
    assert [m.options["task_id"] for m in broker.queue] == [b]


def test_cancel_revokes_the_carrier_of_a_node_running_inline(
    broker: CapturedBroker, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    run_id = run_flow("chain")
    first = broker.take("A")
    crash_in("B", monkeypatch)
    with pytest.raises(Crash):
        deliver(first)
    revoked: list[Any] = []

    class Control:
        def revoke(self, ids: Any, terminate: bool = False) -> None:
            revoked.append((ids, terminate))

    class App:
        control = Control()

    monkeypatch.setattr("selinon_django.runtime.api.get_celery_app", lambda: App())
    with django_capture_on_commit_callbacks(execute=True):
        cancel_flow(run_id)
    assert revoked == [([first.options["task_id"]], True)]


def _dsn() -> str:
    settings = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=settings["NAME"], user=settings["USER"], password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None, port=settings["PORT"] or None,
    )
