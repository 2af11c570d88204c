"""Every path that publishes a node message takes its Celery options from one function,
:func:`selinon_django.runtime.messages.task_options`: the first start, a batch, a retry, the
lost-worker resend, the "busy" re-check, the sweeper's resends, ``retry_flow``, a carried node
resumed, a message handed back after a database error. A second attempt published without the
task's time limits would hang its worker for good.

The function is wrapped by a spy; each test exercises one path with the production code (messages
captured instead of published, served by the functions the Celery tasks call) and checks that
every node message published carries options the spy computed for that node - with the task's
time limits and priority.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, connections
from django.utils import timezone

from selinon_django.config import SourceFile
from selinon_django.models import FlowRun, NodeRun
from selinon_django.models.runs import NodeRunStatus
from selinon_django.runtime import advisory, celery_tasks, envelope, messages, outbox, sweeper
from selinon_django.runtime.api import retry_flow, run_flow
from selinon_django.runtime.configs import forget_configs
from selinon_django.runtime.messages import NODE_TASK, CeleryOptions
from tests.unit.broker import CapturedBroker, install

NODES = """\
global:
  default_task_queue: q_default
tasks:
  - {name: Limited, import: tests.integration.tasks, classname: Noop, queue: q_limited,
     time_limit: 30, soft_time_limit: 20, priority: 3}
  - {name: Flaky, import: tests.integration.tasks, classname: Flaky, queue: q_limited, max_retry: 2,
     time_limit: 30, soft_time_limit: 20, priority: 3}
  - {name: Rated, import: tests.integration.tasks, classname: Flaky, max_retry: 2, rate_limit: 6/m}
  - {name: Item, import: tests.integration.tasks, classname: Noop}
  - {name: Next, import: tests.integration.tasks, classname: Noop}
flows: [limited, flaky, rated, fan, chain]
"""
FLOWS = """\
flow-definitions:
  - name: limited
    edges:
      - {from: [], to: [Limited]}
  - name: flaky
    edges:
      - {from: [], to: [Flaky]}
  - name: rated
    edges:
      - {from: [], to: [Rated]}
  - name: fan
    edges:
      - from: []
        to: [Item]
        foreach: {import: tests.integration.tasks, function: items}
  - name: chain
    edges:
      - {from: [], to: [Item]}
      - {from: [Item], to: [Next]}
"""
LIMITS = {"queue": "q_limited", "time_limit": 30, "soft_time_limit": 20, "priority": 3}

Spy = dict[str, list[CeleryOptions]]


@pytest.fixture
def broker(transactional_db: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[CapturedBroker]:
    monkeypatch.setenv("SELINON_DJANGO_VAR_DIR", str(tmp_path))  # (Flaky counts its attempts there)
    yield install(monkeypatch, [SourceFile("nodes.yaml", "nodes", NODES), SourceFile("flows.yaml", "flows", FLOWS)])
    forget_configs()


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    """``{node id: options task_options computed for it}``, calls in order."""
    calls: Spy = defaultdict(list)
    original = messages.task_options

    def task_options(config: Any, task_name: str, node_id: str, **kwargs: Any) -> CeleryOptions:
        options = original(config, task_name, node_id, **kwargs)
        calls[node_id].append(options)
        return options

    monkeypatch.setattr(messages, "task_options", task_options)
    return calls


def published(broker: CapturedBroker, spy: Spy) -> list[outbox.Message]:
    """The node messages waiting in the captured broker, each checked to carry options the spy
    computed for its node since the test last cleared it (the function was called on the path
    under test, and its answer was what went out)."""
    found = [m for m in broker.queue if m.task_name == NODE_TASK]
    assert found
    for message in found:
        computed = [options.as_dict() for options in spy[message.options["task_id"]]]
        assert message.options in computed, (message.options, computed)
    return found


def deliver(message: outbox.Message, **kwargs: Any) -> envelope.EnvelopeResult:
    return envelope.handle_message(message.options["task_id"], message.kwargs, hostname="w1",
                                   queue=message.options.get("queue"), **kwargs)


def test_first_start(broker: CapturedBroker, spy: Spy) -> None:
    run_flow("limited")
    [message] = published(broker, spy)
    assert LIMITS.items() <= message.options.items()


def test_retry(broker: CapturedBroker, spy: Spy) -> None:
    run_flow("flaky", {"failures": 1})
    first = broker.take("Flaky")
    spy.clear()  # (from here on, only the path under test)
    assert deliver(first).status == NodeRunStatus.RETRIED
    [retry] = published(broker, spy)
    assert LIMITS.items() <= retry.options.items() and retry.kwargs["retried_count"] == 1


def test_retry_of_a_rate_limited_task_takes_a_slot(broker: CapturedBroker, spy: Spy) -> None:
    run_flow("rated", {"failures": 1})
    first = broker.take("Rated")
    spy.clear()
    assert deliver(first).status == NodeRunStatus.RETRIED
    [retry] = published(broker, spy)
    assert retry.options["countdown"] > 5  # the next free slot of "6/m" (one every 10 s)


def test_lost_worker_resend(broker: CapturedBroker, spy: Spy) -> None:
    run_flow("limited")
    first = broker.take("Limited")
    # the attempt started and its process died: the message comes back
    NodeRun.objects.filter(pk=first.options["task_id"]).update(status=NodeRunStatus.STARTED, attempts=1)
    spy.clear()
    assert deliver(first).action == "lost"
    [again] = published(broker, spy)
    assert LIMITS.items() <= again.options.items() and again.kwargs["lost"] == 1


def test_busy_recheck(broker: CapturedBroker, spy: Spy, monkeypatch: pytest.MonkeyPatch) -> None:
    run_flow("limited")
    first = broker.take("Limited")
    other = connections.create_connection(DEFAULT_DB_ALIAS)  # another process runs the node
    try:
        if connection.vendor == "postgresql":
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s)", [advisory.key(first.options["task_id"])])
        else:
            class Held:
                def __enter__(self) -> bool:
                    return False

                def __exit__(self, *_: Any) -> None:
                    return None

            monkeypatch.setattr(envelope, "node_lock", lambda node_id: Held())
        spy.clear()
        assert deliver(first).action == "busy"
    finally:
        other.close()
    [recheck] = published(broker, spy)
    assert LIMITS.items() <= recheck.options.items() and recheck.options["countdown"] == envelope.BUSY_RECHECK


def test_batches_and_their_nodes_sent_alone(broker: CapturedBroker, spy: Spy, settings: Any) -> None:
    settings.SELINON_DJANGO = {**getattr(settings, "SELINON_DJANGO", {}), "TASKS_PER_MESSAGE": 4,
                               "MESSAGES_PER_STEP_MIN": 1}
    run_flow("fan", {"count": 8})
    batches = published(broker, spy)
    assert [len(m.kwargs["batch"]) for m in batches] == [3, 3]
    # a worker limiting every message's time sends the nodes a message lists as their own
    first, _ = broker.take("Item"), broker.take("Item")
    spy.clear()
    deliver(first, time_limited=True)
    carried = published(broker, spy)
    assert {m.options["task_id"] for m in carried} == {item["id"] for item in first.kwargs["batch"]}


def test_sweeper_resends(broker: CapturedBroker, spy: Spy) -> None:
    long_ago = timezone.now() - timedelta(hours=1)
    run_flow("limited")
    lost = broker.take("Limited")  # published, then lost by the broker
    NodeRun.objects.filter(pk=lost.options["task_id"]).update(sent_at=long_ago, updated_at=long_ago)
    run_flow("limited")
    killed = broker.take("Limited")  # started, then killed by its time limit
    NodeRun.objects.filter(pk=killed.options["task_id"]).update(
        status=NodeRunStatus.STARTED, attempts=1, started_at=long_ago, updated_at=long_ago)
    spy.clear()
    report = sweeper.sweep()
    assert report.tasks == 2
    resent = {m.options["task_id"] for m in published(broker, spy)}
    assert resent == {lost.options["task_id"], killed.options["task_id"]}
    assert all(LIMITS.items() <= m.options.items() for m in broker.queue)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="worker locks are PostgreSQL's")
def test_sweeper_reruns_a_task_whose_worker_is_gone(broker: CapturedBroker, spy: Spy) -> None:
    ago = timezone.now() - timedelta(seconds=20)  # (within its time limit: not the time-limit path)
    run_flow("limited")
    node_id = broker.take("Limited").options["task_id"]
    NodeRun.objects.filter(pk=node_id).update(status=NodeRunStatus.STARTED, attempts=1, worker="gone@host",
                                              started_at=ago, updated_at=ago)
    # seen without its lock for longer than the grace
    sweeper._silence.gone({"gone@host"}, set(), timezone.now() - timedelta(seconds=6), timedelta(seconds=5))
    spy.clear()
    assert sweeper.sweep().tasks == 1
    [resent] = published(broker, spy)
    assert LIMITS.items() <= resent.options.items() and resent.options["task_id"] == node_id


def test_retry_flow(broker: CapturedBroker, spy: Spy) -> None:
    run_id = run_flow("flaky", {"failures": 10})
    for _ in range(3):
        deliver(broker.take("Flaky"))
    assert FlowRun.objects.get(pk=run_id).status == "failed"
    spy.clear()
    retry_flow(run_id)
    [again] = published(broker, spy)
    assert LIMITS.items() <= again.options.items()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="inline successors are PostgreSQL's")
def test_a_carried_node_resumed(broker: CapturedBroker, spy: Spy, monkeypatch: pytest.MonkeyPatch) -> None:
    class Crash(BaseException):
        pass

    original = envelope.run_attempt

    def run_attempt(*args: Any, **kwargs: Any) -> Any:
        if kwargs["task_name"] == "Next":
            raise Crash  # the process dies running Next inline under Item's message
        return original(*args, **kwargs)

    monkeypatch.setattr(envelope, "run_attempt", run_attempt)
    run_flow("chain")
    first = broker.take("Item")
    with pytest.raises(Crash):
        deliver(first)
    monkeypatch.setattr(envelope, "run_attempt", original)
    spy.clear()
    assert deliver(first).action == "duplicate"  # delivered again: Next gets a message of its own
    [resumed] = published(broker, spy)
    assert resumed.kwargs["task_name"] == "Next"


def test_a_message_handed_back_after_a_database_error(broker: CapturedBroker, spy: Spy,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    run_flow("limited")
    first = broker.take("Limited")
    monkeypatch.setattr(celery_tasks, "DATABASE_ERROR_PAUSE", 0)
    spy.clear()
    request = SimpleNamespace(id=first.options["task_id"], delivery_info={"routing_key": "q_limited"}, timelimit=None)
    assert celery_tasks._hand_back(request, first.kwargs, OperationalError("server closed the connection")) \
        == "interrupted"
    [handed_back] = published(broker, spy)
    assert LIMITS.items() <= handed_back.options.items() and handed_back.kwargs["interrupted"] is True
