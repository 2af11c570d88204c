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
flows: [chain, fork, routed, limited, fan]
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
  - name: fan
    edges:
      - from: []
        to: [A]
        foreach: {import: tests.integration.tasks, function: items}
      - {from: [A], to: [B]}
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


def b_dies_running_inline(broker: CapturedBroker, monkeypatch: pytest.MonkeyPatch) -> tuple[str, outbox.Message]:
    """Start a chain and deliver A's message, whose 'process' dies in B's first attempt (run inline
    under it); returns the run id and A's message."""
    crashes: list[int] = []
    original = envelope.run_attempt

    def run_attempt(*args: Any, **kwargs: Any) -> Any:
        if kwargs["task_name"] == "B" and not crashes:
            crashes.append(1)
            raise Crash
        return original(*args, **kwargs)

    monkeypatch.setattr(envelope, "run_attempt", run_attempt)
    run_id = run_flow("chain")
    first = broker.take("A")
    with pytest.raises(Crash):
        deliver(first)
    assert crashes == [1]
    return run_id, first


def test_the_carrier_delivered_again_after_its_process_died_resends_the_carried_node(
    broker: CapturedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id, first = b_dies_running_inline(broker, monkeypatch)
    assert not broker.queue
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
    run_id, first = b_dies_running_inline(broker, monkeypatch)
    b = NodeRun.objects.get(flow_run_id=run_id, name="B").pk
    # another session holds B's lock: a live process runs it
    with psycopg.connect(_dsn(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [envelope._lock_key(b)])
        assert deliver(first).action == "duplicate"
        assert not broker.queue
    assert deliver(first).action == "duplicate"  # that session ended: B is orphaned now
    assert [m.options["task_id"] for m in broker.queue] == [b]


@pytest.fixture
def revoked(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What ``cancel_flow`` asks Celery to revoke: ``(task ids, terminate)``."""
    calls: list[Any] = []

    class Control:
        def revoke(self, ids: Any, terminate: bool = False) -> None:
            calls.append((ids, terminate))

    class App:
        control = Control()

    monkeypatch.setattr("selinon_django.runtime.api.get_celery_app", lambda: App())
    return calls


def test_cancel_revokes_the_carrier_of_a_node_running_inline(
    broker: CapturedBroker, monkeypatch: pytest.MonkeyPatch, revoked: list[Any]
) -> None:
    run_id, first = b_dies_running_inline(broker, monkeypatch)
    cancel_flow(run_id)
    assert revoked == [([first.options["task_id"]], True)]


def _dsn() -> str:
    settings = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=settings["NAME"], user=settings["USER"], password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None, port=settings["PORT"] or None,
    )


# --- batched messages -------------------------------------------------------------------------


@pytest.fixture
def batching(settings: Any) -> None:
    settings.SELINON_DJANGO = {**getattr(settings, "SELINON_DJANGO", {}), "TASKS_PER_MESSAGE": 4,
                               "MESSAGES_PER_STEP_MIN": 10}


def carried(message: outbox.Message) -> list[str]:
    """The nodes a message runs: its own, then the ones it lists."""
    return [message.options["task_id"], *(item["id"] for item in message.kwargs.get("batch", ()))]


@pytest.mark.parametrize("count, per_message", [(40, 4), (30, 3), (19, 1)])
def test_a_big_foreach_sends_several_tasks_to_a_message(
    broker: CapturedBroker, batching: None, count: int, per_message: int
) -> None:
    """Up to TASKS_PER_MESSAGE to a message, while at least MESSAGES_PER_STEP_MIN messages go."""
    run_id = run_flow("fan", {"count": count})
    messages = list(broker.queue)
    assert {len(carried(m)) for m in messages[:-1]} == {per_message}
    assert sorted(i for m in messages for i in carried(m)) == sorted(
        NodeRun.objects.filter(flow_run_id=run_id).values_list("id", flat=True))
    assert all("batch" not in item for m in messages for item in m.kwargs.get("batch", ()))


def test_a_batched_message_runs_each_of_its_nodes_as_its_own_message_would(
    broker: CapturedBroker, batching: None
) -> None:
    run_id = run_flow("fan", {"count": 40})
    message = broker.take()
    own, *others = carried(message)
    deliver(message)
    rows = {row.pk: row for row in NodeRun.objects.filter(pk__in=[own, *others])}
    assert all(row.status == "succeeded" and row.attempts == 1 and row.worker == "w1" for row in rows.values())
    assert rows[own].carried_by is None and {rows[i].carried_by for i in others} == {own}
    assert all(row.started_at is not None and row.finished_at is not None for row in rows.values())
    broker.drain()
    assert FlowRun.objects.get(pk=run_id).status == "succeeded"
    assert NodeRun.objects.filter(flow_run_id=run_id, status="succeeded").count() == 80  # 40 A, a B after each


def test_a_batched_message_delivered_again_after_its_process_died_resumes_its_list(
    broker: CapturedBroker, batching: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = run_flow("fan", {"count": 40})
    message = broker.take()
    first, second, third, fourth = carried(message)
    calls: list[str] = []
    original = envelope.run_attempt

    def run_attempt(*args: Any, **kwargs: Any) -> Any:
        if kwargs["task_id"] in (first, second, third, fourth):
            calls.append(kwargs["task_id"])
            if calls == [first, second, third]:
                raise Crash  # the process dies in the third node
        return original(*args, **kwargs)

    monkeypatch.setattr(envelope, "run_attempt", run_attempt)
    with pytest.raises(Crash):
        deliver(message)
    statuses = dict(NodeRun.objects.filter(pk__in=[first, second, third, fourth]).values_list("id", "status"))
    assert statuses == {first: "succeeded", second: "succeeded", third: "started", fourth: "sent"}
    before = len(broker.queue)
    assert deliver(message).action == "duplicate"  # the message comes back
    assert calls[3:] == [fourth]  # the two finished nodes are not run again; the dead one is not either
    [lost] = list(broker.queue)[before:]  # ... it gets a message of its own (lost-worker path)
    assert lost.options["task_id"] == third and "batch" not in lost.kwargs
    broker.queue.remove(lost)
    deliver(lost)
    assert NodeRun.objects.get(pk=third).attempts == 2 and NodeRun.objects.get(pk=third).status == "succeeded"
    broker.drain()
    assert FlowRun.objects.get(pk=run_id).status == "succeeded"


def test_nodes_of_a_batched_message_cancelled_before_their_turn_do_not_run(
    broker: CapturedBroker, batching: None, monkeypatch: pytest.MonkeyPatch, revoked: list[Any]
) -> None:
    run_id = run_flow("fan", {"count": 40})
    message = broker.take()
    cancel_flow(run_id)
    ran: list[str] = []
    monkeypatch.setattr(envelope, "run_attempt", lambda *a, **k: ran.append(k["task_id"]))
    deliver(message)
    assert ran == []
    assert set(NodeRun.objects.filter(pk__in=carried(message)).values_list("status", flat=True)) == {"revoked"}


def test_a_batched_message_with_a_time_limit_sends_its_list_as_messages_of_their_own(
    broker: CapturedBroker, batching: None
) -> None:
    """A worker started with ``--time-limit`` limits the whole message: it runs its own node only."""
    run_id = run_flow("fan", {"count": 40})
    message = broker.take()
    own, *others = carried(message)
    before = len(broker.queue)
    deliver(message, time_limited=True)
    sent = list(broker.queue)[before:]
    assert [m.options["task_id"] for m in sent if "batch" not in m.kwargs and m.kwargs["task_name"] == "A"] == others
    statuses = dict(NodeRun.objects.filter(pk__in=[own, *others]).values_list("id", "status"))
    assert statuses == {own: "succeeded", **dict.fromkeys(others, "sent")}
    broker.drain()
    assert FlowRun.objects.get(pk=run_id).status == "succeeded"
    assert set(NodeRun.objects.filter(pk__in=others).values_list("carried_by", "attempts")) == {(None, 1)}
