"""Recovery at the DEFAULT settings: real worker processes, Redis and PostgreSQL, with Redis'
visibility timeout (one hour), ``LOST_TASK_AFTER`` (300 s), ``SWEEP_GRACE`` (5 s) and
``SWEEP_INTERVAL`` (2 s) as shipped - the session's workers shorten them, so these tests stop
those and start their own.

- a worker killed whole (main process included) has its started nodes run again in seconds;
- a trigger task that kills its process is counted and capped like a node task;
- messages lost with the broker's data (trigger tasks included) are resent at once;
- a database outage is not counted as a lost worker;
- wake-ups waiting in a queue nobody consumes yet are not sent again (no amplified backlog).
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import DISPATCHER_QUEUES, TASK_QUEUES
from tests.integration.helpers import node_counts, wait_finished
from tests.integration.workers import WorkerPool, restart_redis, terminate_database_connections, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

RECOVERY_FLOWS = Path(__file__).resolve().parent / "recovery_flows.yaml"
TASKS = "tests.integration.recovery_tasks"

#: the shipped defaults (demo_project/settings.py reads these variables; Redis' transport
#: options empty: its visibility timeout is one hour)
DEFAULTS = {
    "SELINON_SWEEP_INTERVAL": "2",
    "SELINON_SWEEP_GRACE": "5",
    "SELINON_LOST_TASK_AFTER": "300",
    "SELINON_BROKER_TRANSPORT_OPTIONS": "{}",
}


@pytest.fixture
def pool(workers: WorkerPool, celery_app: Any, worker_env: dict[str, str], worker_logs: Path,
         transactional_db: None) -> Iterator[WorkerPool]:
    """Workers at the default settings, started by each test; the session's are stopped first
    (the next test that wants them starts them again)."""
    workers.stop_all()
    own = WorkerPool(celery_app, {**worker_env, **DEFAULTS}, worker_logs)
    try:
        yield own
    finally:
        for worker in own.workers:
            worker.kill()  # nothing left running while the tables are emptied
        own.workers.clear()


@pytest.fixture
def recovery_flows(load_flows: Any) -> Any:
    return load_flows(RECOVERY_FLOWS, [RECOVERY_FLOWS])


def attempts_run(worker_env: dict[str, str], name: str) -> int:
    """How many times a body of tests/integration/recovery_tasks.py ran for ``name``."""
    path = Path(worker_env["SELINON_DJANGO_VAR_DIR"]) / "recovery" / name
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_a_worker_killed_whole_has_its_nodes_run_again_within_seconds(
    pool: WorkerPool, recovery_flows: Any, worker_env: dict[str, str]
) -> None:

    from selinon_django.models import FlowRun, NodeRun
    from selinon_django.runtime import advisory
    from selinon_django.runtime.api import run_flow
    from selinon_django.runtime.store import run_store

    pool.start(DISPATCHER_QUEUES, concurrency=1)
    victim = pool.start(TASK_QUEUES, concurrency=2)
    ids = [run_flow("sleep_first", {"sleep": 600}) for _ in range(2)]
    running = wait_until(
        lambda: list(NodeRun.objects.filter(flow_run_id__in=ids, name="SleepFirst", status="started"))
        if NodeRun.objects.filter(flow_run_id__in=ids, name="SleepFirst", status="started").count() == 2 else None,
        timeout=60, message=lambda: f"both SleepFirst to start\n{pool.logs()}",
    )
    assert {node.worker for node in running} == {victim.hostname}
    held = run_store().held_keys()  # the worker says it lives, each attempt that it runs
    assert advisory.worker_key(victim.hostname) in held
    assert all(advisory.key(node.pk) in held for node in running)

    victim.kill()  # SIGKILL of the main process and its pool: their messages stay unacknowledged
    pool.workers.remove(victim)
    killed_at = time.monotonic()
    pool.start(TASK_QUEUES, concurrency=2)
    # an hour before Redis would hand the messages out again, 300 s before LOST_TASK_AFTER
    wait_until(lambda: FlowRun.objects.filter(pk__in=ids, status="succeeded").count() == 2, timeout=60,
               message=lambda: f"the flows after their worker was killed\n{pool.logs()}")
    assert time.monotonic() - killed_at < 60
    for run_id in ids:
        assert node_counts(run_id) == Counter(
            {("T1", "succeeded"): 1, ("SleepFirst", "succeeded"): 1, ("T2", "succeeded"): 1})
        node = NodeRun.objects.get(flow_run_id=run_id, name="SleepFirst")
        assert node.attempts == 2 and attempts_run(worker_env, node.pk) == 2
        assert node.worker != victim.hostname


def test_a_trigger_task_that_kills_its_process_is_counted_and_capped(
    pool: WorkerPool, recovery_flows: Any, worker_env: dict[str, str]
) -> None:
    from selinon_django.models.triggers import TriggerTaskInstance
    from selinon_django.triggers.manager import fire, update_configuration

    pool.start(TASK_QUEUES, concurrency=1)
    update_configuration("suicidal", {"crash": {"after": ["go"], "run": f"{TASKS}.KillsItself"}})
    fire("suicidal", "go")
    instance = wait_until(
        lambda: TriggerTaskInstance.objects.filter(session__key="suicidal", name="crash", status="failed").first(),
        timeout=120, message=lambda: f"the trigger task to fail\n{pool.logs()}",
    )
    # max_retries 2 (over LOST_TASK_RETRIES 1): its first attempt and two more, each lost
    assert instance.attempts == 3 and attempts_run(worker_env, instance.pk) == 3
    assert instance.error.startswith("WorkerLostError") and "3 time(s)" in instance.error


def test_messages_lost_with_the_brokers_data_are_resent_at_once(
    pool: WorkerPool, recovery_flows: Any, worker_env: dict[str, str], services: tuple[str, str], celery_app: Any
) -> None:
    from selinon_django.models import FlowRun
    from selinon_django.models.triggers import TriggerTaskInstance
    from selinon_django.runtime.api import run_flow
    from selinon_django.runtime.broker import BrokerProbe
    from selinon_django.triggers.manager import fire, update_configuration

    pool.start(DISPATCHER_QUEUES, concurrency=1)
    pool.start(TASK_QUEUES, concurrency=2)

    def marker_planted() -> bool:
        probe = BrokerProbe(celery_app)
        try:
            return probe.lost_its_data() is False
        finally:
            probe.close()

    wait_until(marker_planted, timeout=30, message="a sweep to plant the broker's marker")
    for worker in pool.workers:
        worker.stop()  # messages pile up in the broker, then vanish with it
    pool.workers.clear()
    ids = [run_flow("chain3", {"i": i}) for i in range(5)]
    sessions = [f"lost-{i}" for i in range(5)]
    for session in sessions:
        update_configuration(session, {"once": {"after": ["go"], "run": f"{TASKS}.Once"}})
        fire(session, "go")
    assert TriggerTaskInstance.objects.filter(session__key__in=sessions, status="scheduled").count() == 5
    restart_redis(services[1], keep_data=False, app=celery_app)
    pool.start(DISPATCHER_QUEUES, concurrency=1)
    pool.start(TASK_QUEUES, concurrency=2)
    # nothing waits LOST_TASK_AFTER (300 s): the marker is gone, everything in flight is resent
    wait_until(
        lambda: FlowRun.objects.filter(pk__in=ids, status="succeeded").count() == 5
        and TriggerTaskInstance.objects.filter(session__key__in=sessions, status="succeeded").count() == 5,
        timeout=60, message=lambda: f"flows and trigger tasks after the broker lost its data\n{pool.logs()}",
    )
    for run_id in ids:
        assert node_counts(run_id) == Counter({(f"T{i}", "succeeded"): 1 for i in range(1, 4)})
    for instance in TriggerTaskInstance.objects.filter(session__key__in=sessions):
        assert instance.attempts == 1 and attempts_run(worker_env, instance.pk) == 1
    assert marker_planted()  # planted again once everything was resent


def test_a_database_outage_is_not_counted_as_a_lost_worker(
    pool: WorkerPool, recovery_flows: Any, worker_env: dict[str, str]
) -> None:
    """SleepFirst (no max_retry; LOST_TASK_RETRIES 1) has the database cut under it twice: two
    lost workers would fail it, two outages run it again."""
    from django.db import connection

    from selinon_django.models import NodeRun
    from selinon_django.runtime.api import run_flow

    pool.start(DISPATCHER_QUEUES, concurrency=1)
    pool.start(TASK_QUEUES, concurrency=2)
    run_id = run_flow("sleep_first", {"sleep": 4, "times": 2})
    node = wait_until(lambda: NodeRun.objects.filter(flow_run_id=run_id, name="SleepFirst").first(), timeout=60,
                      message=lambda: f"SleepFirst to be sent\n{pool.logs()}")
    for attempt in (1, 2):
        # its body runs (it sleeps 4 s): the database goes away under it
        wait_until(lambda attempt=attempt: attempts_run(worker_env, node.pk) == attempt, timeout=60,
                   message=lambda: f"an attempt to run\n{pool.logs()}")
        with connection.cursor() as cursor:
            assert terminate_database_connections(cursor) > 0
    run = wait_finished(run_id, timeout=90, workers=pool)
    assert run.status == "succeeded", pool.logs()
    node = NodeRun.objects.get(flow_run_id=run_id, name="SleepFirst")
    assert node.attempts == 3 and attempts_run(worker_env, node.pk) == 3
    assert node_counts(run_id) == Counter(
        {("T1", "succeeded"): 1, ("SleepFirst", "succeeded"): 1, ("T2", "succeeded"): 1})
    assert all(worker.alive() for worker in pool.workers)


def test_wakeups_waiting_in_the_queue_are_not_sent_again(
    pool: WorkerPool, recovery_flows: Any, services: tuple[str, str]
) -> None:
    """40 flows start sub-flows while no worker consumes the dispatcher queue: each child's
    start waits there, and each parent's safety-net wake-up; none is sent again, however long
    they wait (each resend used to add a message per run every SWEEP_GRACE)."""
    import redis

    from selinon_django.models import FlowRun, NodeRun
    from selinon_django.runtime.api import run_flow

    queue = redis.Redis.from_url(services[1])
    pool.start(TASK_QUEUES, concurrency=2)  # its sweeper runs; no dispatcher worker yet
    ids = [run_flow("paused_parent", {"pause": 0.05}) for _ in range(40)]
    wait_until(lambda: FlowRun.objects.filter(parent_run_id__in=ids).count() == 40, timeout=60,
               message=lambda: f"40 child runs\n{pool.logs()}")
    lengths = []
    deadline = time.monotonic() + 20  # four SWEEP_GRACE periods, ten sweeps
    while time.monotonic() < deadline:
        lengths.append(queue.llen("selinon_dispatcher"))
        time.sleep(0.25)
    # the children's starts, then the parents' safety-net wake-ups as the sweeper finds them due:
    # at most one message per run
    assert 40 < max(lengths) <= 80, lengths
    assert lengths[-1] == max(lengths)
    pool.start(DISPATCHER_QUEUES, concurrency=1)
    wait_until(lambda: FlowRun.objects.filter(pk__in=ids, status="succeeded").count() == 40, timeout=120,
               message=lambda: f"the 40 flows\n{pool.logs()}")
    assert NodeRun.objects.filter(name="Pause").count() == 80
    assert set(NodeRun.objects.filter(name="Pause").values_list("status", "attempts")) == {("succeeded", 1)}
