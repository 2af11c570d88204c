"""What at-least-once delivery, dead workers, a restarted broker and dropped connections do.

Each test asserts exact node-run rows: the flows finish, and no node runs more than it must.
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import DISPATCHER_QUEUES, TASK_QUEUES
from tests.integration.helpers import node_counts, wait_finished
from tests.integration.publish_twice import ANNOUNCEMENT
from tests.integration.workers import Broker, terminate_database_connections, wait_until
from tests.worker_fixtures import ON_REDIS_AND_RABBITMQ, ON_REDIS_AND_RABBITMQ_QUEUES

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_started(run_id: str, name: str, timeout: float = 30) -> Any:
    from selinon_django.models import NodeRun

    return wait_until(
        lambda: NodeRun.objects.filter(flow_run_id=run_id, name=name, status="started").first(),
        timeout=timeout, message=f"{name} of {run_id} to start",
    )


def test_foreach_of_a_thousand(live_workers: Any, load_flows: Any) -> None:
    from selinon_django.runtime.api import run_flow

    load_flows()
    run_id = run_flow("fanout_only", {"count": 1000})
    run = wait_finished(run_id, timeout=180, workers=live_workers)
    assert run.status == "succeeded"
    assert node_counts(run_id) == Counter({("Item", "succeeded"): 1000})
    assert len(run.state["finished_nodes"]["Item"]) == 1000
    # several to a message: 7 (1,000 // MESSAGES_PER_STEP_MIN, under TASKS_PER_MESSAGE), so 143
    # messages: 142 of 7 and one of 6, each its own node and the ones it carried
    from selinon_django.models import NodeRun

    items = NodeRun.objects.filter(flow_run_id=run_id)
    carriers = Counter(items.exclude(carried_by=None).values_list("carried_by", flat=True))
    assert len(carriers) == 143 and Counter(carriers.values()) == Counter({6: 142, 5: 1})
    assert set(items.filter(carried_by=None).values_list("id", flat=True)) == set(carriers)
    assert set(items.values_list("attempts", flat=True)) == {1}


def test_hundred_flows_at_once(live_workers: Any, load_flows: Any) -> None:
    from selinon_django.models import FlowRun, NodeRun
    from selinon_django.runtime.api import run_flow

    load_flows()
    ids = [run_flow("chain5", {"i": i}) for i in range(100)]
    wait_until(lambda: FlowRun.objects.filter(pk__in=ids, status="succeeded").count() == 100, timeout=180,
               message=lambda: f"100 flows ({Counter(FlowRun.objects.values_list('status', flat=True))})")
    assert NodeRun.objects.filter(flow_run_id__in=ids).count() == 500
    assert NodeRun.objects.filter(flow_run_id__in=ids, status="succeeded", attempts=1).count() == 500


@ON_REDIS_AND_RABBITMQ_QUEUES
def test_sigkill_of_the_worker_running_a_task(live_workers: Any, load_flows: Any) -> None:
    from selinon_django.models import NodeRun
    from selinon_django.runtime.api import run_flow

    load_flows()
    run_id = run_flow("sleepy", {"sleep": 60})
    sleeping = _wait_started(run_id, "Sleep")
    task_worker = next(w for w in live_workers.workers if "selinon_tasks" in w.queues)
    assert sleeping.worker == task_worker.hostname
    # Sleep runs inline under T1's message: the kill is found when T1's message comes back
    assert sleeping.carried_by == NodeRun.objects.get(flow_run_id=run_id, name="T1").pk
    task_worker.kill()  # the whole worker: main process and the child running Sleep
    live_workers.workers.remove(task_worker)
    # its message comes back: on Redis after the visibility timeout, on RabbitMQ when the connection drops
    live_workers.start(TASK_QUEUES, concurrency=2)
    run = wait_finished(run_id, timeout=90, workers=live_workers)
    assert run.status == "succeeded"
    # each node has exactly one row, and that row succeeded
    assert node_counts(run_id) == Counter({("T1", "succeeded"): 1, ("Sleep", "succeeded"): 1, ("T2", "succeeded"): 1})
    assert NodeRun.objects.get(flow_run_id=run_id, name="Sleep").attempts == 2


def test_every_message_published_twice(workers: Any, load_flows: Any) -> None:
    """Workers (and this process) publish every message twice: no node starts twice."""
    from selinon_django.models import NodeRun
    from selinon_django.runtime import outbox
    from selinon_django.runtime.api import run_flow

    load_flows()
    workers.stop_all()
    app_module = "tests.integration.publish_twice"
    workers.start(DISPATCHER_QUEUES, concurrency=1, app_module=app_module)
    workers.start(TASK_QUEUES, concurrency=2, app_module=app_module)
    outbox.set_publish_copies(2)
    try:
        ids = [run_flow("chain5", None), run_flow("parent", {"p": 1}), run_flow("fanout", {"count": 10}),
               run_flow("retries", {"failures": 1})]
        for run_id in ids:
            assert wait_finished(run_id, timeout=90, workers=workers).status == "succeeded"
        # every worker process (main and pool children), not only this one, published twice
        for worker in workers.workers:
            announced = worker.log_path.read_text(errors="replace").count(ANNOUNCEMENT)
            assert announced >= 1 + worker.concurrency, (worker.hostname, worker.log_tail())
    finally:
        outbox.set_publish_copies(1)
        workers.stop_all()  # the next test's live_workers starts ordinary ones
    assert node_counts(ids[0]) == Counter({(f"T{i}", "succeeded"): 1 for i in range(1, 6)})
    assert node_counts(ids[1], tree=True) == Counter(
        {("T1", "succeeded"): 1, ("child", "succeeded"): 1, ("Echo", "succeeded"): 2, ("Stored", "succeeded"): 1}
    )
    assert node_counts(ids[2]) == Counter({("T1", "succeeded"): 1, ("Item", "succeeded"): 10, ("T2", "succeeded"): 10})
    assert node_counts(ids[3]) == Counter(
        {("Flaky", "succeeded"): 1, ("UserRetry", "succeeded"): 1, ("T1", "succeeded"): 1}
    )
    # a node "starts" once per attempt: duplicates never ran a node again
    attempts = dict(NodeRun.objects.filter(flow_run_id=ids[3]).values_list("name", "attempts"))
    assert attempts == {"Flaky": 2, "UserRetry": 2, "T1": 1}
    tasks = NodeRun.objects.filter(flow_run_id__in=ids[:3], kind="task")
    assert set(tasks.values_list("attempts", flat=True)) == {1}


@ON_REDIS_AND_RABBITMQ
def test_broker_restarted_mid_flow(live_workers: Any, load_flows: Any, broker: Broker, celery_app: Any) -> None:
    from selinon_django.models import FlowRun
    from selinon_django.runtime.api import run_flow

    load_flows()
    sleepy = run_flow("sleepy", {"sleep": 2})
    _wait_started(sleepy, "Sleep")
    ids = [run_flow("chain5", {"i": i}) for i in range(20)]
    broker.restart(keep_data=True, app=celery_app)
    ids.append(sleepy)
    wait_until(lambda: FlowRun.objects.filter(pk__in=ids, status="succeeded").count() == len(ids), timeout=120,
               message=lambda: f"flows after a broker restart:\n{live_workers.logs()}")
    # every worker survived the restart (Celery 5.7.0's did not when a late-acked task was running)
    assert all(worker.alive() for worker in live_workers.workers), live_workers.logs()
    assert node_counts(sleepy) == Counter({("T1", "succeeded"): 1, ("Sleep", "succeeded"): 1, ("T2", "succeeded"): 1})


@ON_REDIS_AND_RABBITMQ
def test_broker_restarted_without_its_data(
    live_workers: Any, load_flows: Any, broker: Broker, celery_app: Any
) -> None:
    """Every queued message is lost: the sweeper re-sends wake-ups and task messages."""
    from selinon_django.models import FlowRun
    from selinon_django.runtime.api import run_flow

    load_flows()
    live_workers.stop_all()  # messages pile up in the broker, then vanish with it
    ids = [run_flow("chain5", {"i": i}) for i in range(5)]
    broker.restart(keep_data=False, app=celery_app)
    live_workers.start(DISPATCHER_QUEUES, concurrency=1)
    live_workers.start(TASK_QUEUES, concurrency=2)
    wait_until(lambda: FlowRun.objects.filter(pk__in=ids, status="succeeded").count() == len(ids), timeout=120,
               message=lambda: f"flows after losing the broker's data:\n{live_workers.logs()}")
    for run_id in ids:
        assert node_counts(run_id) == Counter({(f"T{i}", "succeeded"): 1 for i in range(1, 6)})


def test_database_connections_dropped_mid_flow(live_workers: Any, load_flows: Any) -> None:
    from django.db import connection

    from selinon_django.models import FlowRun
    from selinon_django.runtime.api import run_flow

    load_flows()
    ids = [run_flow("fanout", {"count": 30}) for _ in range(3)]
    wait_until(lambda: FlowRun.objects.filter(pk__in=ids, status="running").exists(), timeout=30)
    dropped = 0
    for _ in range(3):
        with connection.cursor() as cursor:
            dropped += terminate_database_connections(cursor)
    assert dropped > 0
    wait_until(lambda: FlowRun.objects.filter(pk__in=ids, status="succeeded").count() == 3, timeout=120,
               message=lambda: f"flows after dropped connections:\n{live_workers.logs()}")
    for run_id in ids:
        assert node_counts(run_id) == Counter(
            {("T1", "succeeded"): 1, ("Item", "succeeded"): 30, ("T2", "succeeded"): 30}
        )


@ON_REDIS_AND_RABBITMQ
def test_cancel_a_running_flow(live_workers: Any, load_flows: Any) -> None:
    from celery.result import AsyncResult

    from selinon_django.models import FlowRun, NodeRun
    from selinon_django.runtime.api import cancel_flow, run_flow

    load_flows()
    run_id = run_flow("sleepy", {"sleep": 60})
    _wait_started(run_id, "Sleep")
    assert cancel_flow(run_id) == 1
    run = FlowRun.objects.get(pk=run_id)
    assert run.status == "revoked"
    wait_until(lambda: AsyncResult(run_id).state == "REVOKED", timeout=20)
    assert node_counts(run_id) == Counter({("T1", "succeeded"): 1, ("Sleep", "revoked"): 1})
    # the terminated task does not turn its revoked row into anything else, and nothing follows
    run_flow("chain5", None)  # some later work through the same workers
    assert NodeRun.objects.get(flow_run_id=run_id, name="Sleep").status == "revoked"
    assert not NodeRun.objects.filter(flow_run_id=run_id, name="T2").exists()


def test_retry_from_failure_keeps_what_succeeded(
    live_workers: Any, load_flows: Any, worker_env: dict[str, str]
) -> None:
    from selinon_django.models import FlowRun
    from selinon_django.runtime.api import retry_flow, run_flow

    load_flows()
    flag = f"flag-{os.getpid()}-{id(load_flows)}"
    run_id = run_flow("retry_parent", {"flag": flag})
    assert wait_finished(run_id, workers=live_workers).status == "failed"
    child = FlowRun.objects.get(parent_run_id=run_id)
    assert child.status == "failed"
    assert node_counts(child.pk) == Counter({("T1", "succeeded"): 1, ("FailUnlessFlag", "failed"): 1})
    (Path(worker_env["SELINON_DJANGO_VAR_DIR"]) / "integration" / flag).parent.mkdir(parents=True, exist_ok=True)
    (Path(worker_env["SELINON_DJANGO_VAR_DIR"]) / "integration" / flag).write_text("set")
    retry_flow(run_id)
    run = wait_finished(run_id, workers=live_workers)
    from selinon_django.runtime.report import run_report

    assert run.status == "succeeded", run_report(run_id)
    assert node_counts(run_id) == Counter(
        {("T1", "succeeded"): 1, ("retry_me", "succeeded"): 1, ("T3", "succeeded"): 1}
    )
    assert node_counts(child.pk) == Counter(
        {("T1", "succeeded"): 1, ("FailUnlessFlag", "failed"): 1, ("FailUnlessFlag", "succeeded"): 1,
         ("T2", "succeeded"): 1}
    )


@pytest.mark.parametrize("flow", ["crash", "crash_after"])
def test_task_that_kills_its_process_stops_after_its_retries(live_workers: Any, load_flows: Any, flow: str) -> None:
    """``crash``: Crash is its message's own node; ``crash_after``: it first runs inline under T1's
    message, whose redelivery gives it a message of its own."""
    from selinon_django.models import NodeRun
    from selinon_django.runtime.api import run_flow

    load_flows()
    run_id = run_flow(flow, None)
    run = wait_finished(run_id, timeout=120, workers=live_workers)
    assert run.status == "failed"
    crash = NodeRun.objects.get(flow_run_id=run_id, name="Crash")
    assert crash.status == "failed"
    assert crash.attempts == 3  # max_retry: 2
    assert "WorkerLostError" in crash.exception
    if flow == "crash_after":
        t1 = NodeRun.objects.get(flow_run_id=run_id, name="T1")
        assert (t1.status, t1.attempts) == ("succeeded", 1)
