"""Worker fixtures shared by the integration and the browser tests: real PostgreSQL, real Redis,
real worker processes.

Registered once, from ``tests/conftest.py`` (``pytest_plugins``), so the whole session has ONE
pool of workers. Importing these fixtures into two conftest files made pytest build two
session-scoped pools consuming the same queues, each with its own var dir: a task could then run
on the other pool's worker.

The workers are started once per session, after pytest-django created the test database, with
``DATABASE_URL`` naming that database. Tests use ``transactional_db`` (committed data), so what
a test writes the workers read, and what the workers write the test reads. pytest-django empties
the tables after each test; messages left in the broker by a test then name runs that no longer
exist, which the runtime must (and does) drop as harmless.

Without PostgreSQL and Redis these tests fail; they never skip.

The broker is Redis. A test decorated with :data:`ON_REDIS_AND_RABBITMQ` runs twice: on Redis,
and on the RabbitMQ node of scripts/services.sh (``SELINON_TEST_AMQP_URL``), classic queues;
:data:`ON_REDIS_AND_RABBITMQ_QUEUES` adds a third run on RabbitMQ quorum queues (their own
virtual host, workers with :data:`QUORUM_SETTINGS`). ``broker`` is a session fixture whose
default (no parameter) is Redis, so pytest groups the runs of each other broker together: the
Redis workers stop, that broker's workers serve the group, and Redis workers come back after it
(one pool alive at a time, so no worker's sweeper resends another broker's messages). Only a
handful of tests run on RabbitMQ.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.workers import (
    QUORUM_VHOST,
    RABBITMQ,
    RABBITMQ_QUORUM,
    REDIS,
    REPO,
    Broker,
    ServicesMissing,
    WorkerPool,
    rabbitmq_url,
    rabbitmq_vhost,
    require_services,
    use_broker,
    use_queue_type,
    with_database_name,
    worker_environment,
)

#: the queues of the test configurations (tests/integration/flows/nodes.yaml) and of the demo
DISPATCHER_QUEUES = ("selinon_dispatcher", "demo_dispatcher")
TASK_QUEUES = ("selinon_tasks", "demo_tasks", "demo_security", "demo_io", "celery")
FLOWS_DIR = Path(__file__).resolve().parent / "integration" / "flows"

#: run a test on Redis and on RabbitMQ (None: the session's default broker, Redis, so the Redis
#: run shares the workers of every other test)
ON_REDIS_AND_RABBITMQ = pytest.mark.parametrize("broker", [None, RABBITMQ], ids=[REDIS, RABBITMQ], indirect=True)
#: ... and on RabbitMQ's quorum queues as well
ON_REDIS_AND_RABBITMQ_QUEUES = pytest.mark.parametrize(
    "broker", [None, RABBITMQ, RABBITMQ_QUORUM], ids=[REDIS, RABBITMQ, RABBITMQ_QUORUM], indirect=True
)

#: the settings of the workers of the quorum-queue tests
QUORUM_SETTINGS = "tests.integration.quorum_settings"


@pytest.fixture(scope="session")
def services() -> tuple[str, str]:
    try:
        return require_services()
    except AssertionError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def celery_app(services: tuple[str, str]) -> Any:
    from demo_project.celery import app

    return app


@pytest.fixture(scope="session")
def broker(request: pytest.FixtureRequest, services: tuple[str, str], celery_app: Any) -> Iterator[Broker]:
    """The broker of the workers and of this process: Redis, or RabbitMQ for a test parametrised
    with :data:`ON_REDIS_AND_RABBITMQ` (this process publishes there while such tests run)."""
    kind = getattr(request, "param", None) or REDIS
    if kind == REDIS:
        yield Broker(REDIS, services[1])
        return
    quorum = kind == RABBITMQ_QUORUM
    try:
        url = rabbitmq_url(QUORUM_VHOST if quorum else "")
        if quorum:
            rabbitmq_vhost(QUORUM_VHOST, fresh=True)
    except ServicesMissing as error:
        pytest.fail(str(error), pytrace=False)
    use_broker(celery_app, url)
    use_queue_type(celery_app, "quorum" if quorum else "classic")
    with celery_app.connection_for_write() as connection:  # not connected: which transport it would use
        assert connection.transport.driver_type == "amqp", connection.as_uri()
    try:
        yield Broker(kind, url)
    finally:
        use_broker(celery_app, services[1])
        use_queue_type(celery_app, "classic")


@pytest.fixture(scope="session")
def worker_env(
    services: tuple[str, str], broker: Broker, django_db_setup: None, django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    """The environment of every worker: the pytest-django test database and the test broker."""
    from django.db import connection

    database_url, _ = services
    test_db = connection.settings_dict["NAME"]
    var_dir = tmp_path_factory.mktemp("worker-var")
    settings = {"DJANGO_SETTINGS_MODULE": QUORUM_SETTINGS} if broker.kind == RABBITMQ_QUORUM else {}
    return worker_environment(with_database_name(database_url, test_db), broker.url, var_dir, **settings)


@pytest.fixture(scope="session")
def worker_logs() -> Path:
    path = Path(os.environ.get("SELINON_TEST_OUTPUT", REPO / "test-output")) / "workers"
    path.mkdir(parents=True, exist_ok=True)
    return path


#: the session's pool of the current broker (see ``workers``)
_POOLS: list[WorkerPool] = []


def _ensure_running(pool: WorkerPool) -> None:
    """One worker per queue set, (re)started if a test stopped or killed it."""
    for worker in list(pool.workers):
        if not worker.alive():
            pool.workers.remove(worker)
    for queues, concurrency in ((DISPATCHER_QUEUES, 1), (TASK_QUEUES, 2)):
        if not any(w.queues == queues for w in pool.workers):
            pool.start(queues, concurrency=concurrency)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """The session's workers run only while tests that use them run: live workers sweep the test
    database every few seconds and would resend or re-run what another test writes into its rows
    (the sweeper's unit tests, a page test with made-up running nodes). A test that uses them
    finds them running again."""
    uses = "workers" in getattr(item, "fixturenames", ())
    for pool in _POOLS:
        if uses:
            _ensure_running(pool)
        else:
            pool.stop_all()


@pytest.fixture(scope="session")
def workers(celery_app: Any, worker_env: dict[str, str], worker_logs: Path) -> Iterator[WorkerPool]:
    """Two worker processes: one for the dispatcher queue, one for the task queues."""
    pool = WorkerPool(celery_app, worker_env, worker_logs)
    _POOLS.append(pool)
    try:
        pool.start(DISPATCHER_QUEUES, concurrency=1)
        pool.start(TASK_QUEUES, concurrency=2)
        yield pool
    finally:
        _POOLS.remove(pool)
        pool.stop_all()


@pytest.fixture()
def live_workers(workers: WorkerPool, transactional_db: None) -> Iterator[WorkerPool]:
    """The session's workers: one per queue set, (re)started if an earlier test stopped or killed it.

    It depends on ``transactional_db`` so that its teardown runs before pytest-django empties the
    tables: there it waits (bounded) until the workers have finished what the test left running,
    because TRUNCATE while a worker still writes deadlocks the flush.
    """
    _ensure_running(workers)
    yield workers
    _wait_quiet(timeout=20)


def _wait_quiet(timeout: float) -> None:
    """Until no flow run and no node run is unfinished, or ``timeout`` seconds passed."""
    from selinon_django.models import FlowRun, NodeRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not FlowRun.objects.unfinished().exists() and not NodeRun.objects.unfinished().exists():
            return
        time.sleep(0.1)


@pytest.fixture()
def load_flows(transactional_db: None) -> Any:
    """``load_flows(nodes_yaml, flows_dir_or_files)`` loads a configuration revision and returns it."""
    from selinon_django.config import load_config
    from selinon_django.revisions import load_revision

    def load(nodes: Path | str = FLOWS_DIR / "nodes.yaml", flows: Path | str | list[Path] = FLOWS_DIR / "flows") -> Any:
        flow_paths = flows if isinstance(flows, list) else [Path(flows)]
        revision, _ = load_revision(load_config([Path(nodes)], [Path(p) for p in flow_paths]))
        return revision

    return load
