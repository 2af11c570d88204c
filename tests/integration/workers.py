"""Real Celery worker processes, a real broker (Redis, or RabbitMQ for the tests parametrised
with it) and a real PostgreSQL for the integration tests.

Why subprocesses: the claims under test (late acknowledgement, requeue after SIGKILL, duplicate
deliveries, a broker restart) are about what separate worker processes do with a real broker,
which an in-process eager worker cannot show. The workers see the pytest-django test database
because their environment's ``DATABASE_URL`` names it; tests use committed data
(``transactional_db``) so the workers can read it.

Nothing here sleeps for a fixed time to "let things happen": readiness is a control ``ping``
answered by the named worker, and waits poll a condition with a deadline.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[2]
CELERY = REPO / ".venv" / "bin" / "celery"

#: broker options of the test workers: a killed worker's unacknowledged message is visible
#: again after a few seconds (Redis default: one hour), and every worker scans for such
#: messages every second.
TEST_TRANSPORT_OPTIONS: dict[str, Any] = {
    "visibility_timeout": 8,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}


class ServicesMissing(AssertionError):
    """PostgreSQL or Redis is not configured: integration tests fail (they never skip)."""


def require_services() -> tuple[str, str]:
    """``(DATABASE_URL, CELERY_BROKER_URL)`` or fail: these tests are about the real parts."""
    database_url = os.environ.get("DATABASE_URL", "")
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    problems = []
    if not database_url.startswith(("postgres://", "postgresql://")):
        problems.append(f"DATABASE_URL must name PostgreSQL (got {database_url!r})")
    if not broker_url.startswith("redis://"):
        problems.append(f"CELERY_BROKER_URL must name Redis (got {broker_url!r})")
    if problems:
        raise ServicesMissing(
            "integration tests need real services: run them through scripts/test.sh, or "
            "`source scripts/services.sh; services_start` first. " + "; ".join(problems)
        )
    return database_url, broker_url


def with_database_name(url: str, name: str) -> str:
    """The same database URL pointing at another database (the pytest-django test database)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def wait_until(
    condition: Callable[[], Any],
    *,
    timeout: float,
    interval: float = 0.05,
    message: str | Callable[[], str] = "condition",
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail with ``message`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {text}")
        time.sleep(interval)


@dataclass
class WorkerProcess:
    """One ``celery worker`` subprocess (main process + prefork children in its own session)."""

    queues: tuple[str, ...]
    env: Mapping[str, str]
    log_dir: Path
    concurrency: int = 2
    name: str = field(default_factory=lambda: f"w{uuid.uuid4().hex[:8]}")
    extra_args: tuple[str, ...] = ()
    #: the Celery app module (``-A``): the demo project's, or a test's variant of it
    app_module: str = "demo_project"
    process: subprocess.Popen[bytes] | None = None

    @property
    def hostname(self) -> str:
        return f"{self.name}@selinon-test"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def command(self) -> list[str]:
        return [
            str(CELERY), "-A", self.app_module, "worker",
            "-Q", ",".join(self.queues),
            "-c", str(self.concurrency),
            "-n", self.hostname,
            "-P", "prefork",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--loglevel", "INFO",
            *self.extra_args,
        ]

    def start(self, app: Any, *, timeout: float = 60) -> WorkerProcess:
        """Start the process and return once it answers a control ``ping``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            cwd=REPO,
            env=dict(self.env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: SIGKILL reaches the pool children too
        )
        log.close()
        self.wait_ready(app, timeout=timeout)
        return self

    def wait_ready(self, app: Any, *, timeout: float = 60) -> None:
        def answered() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"worker {self.hostname} exited at start:\n{self.log_tail()}")
            replies = app.control.ping(destination=[self.hostname], timeout=0.5) or []
            return any(self.hostname in reply for reply in replies)

        wait_until(
            answered, timeout=timeout, interval=0.1, message=lambda: f"{self.hostname} to start:\n{self.log_tail()}"
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children): nothing can ack or clean up."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, *, timeout: float = 30) -> None:
        """Warm shutdown (SIGTERM), SIGKILL if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def child_pids(self) -> list[int]:
        """Pids of the prefork pool children (read from /proc)."""
        if self.process is None:
            return []
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == self.process.pid:
                pids.append(int(entry.name))
        return pids

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class WorkerPool:
    """The workers of one test session; ``restart_all`` after a test that killed some."""

    def __init__(self, app: Any, env: Mapping[str, str], log_dir: Path) -> None:
        self.app = app
        self.env = dict(env)
        self.log_dir = log_dir
        self.workers: list[WorkerProcess] = []

    def start(self, queues: Iterable[str], *, concurrency: int = 2, extra_args: Iterable[str] = (),
              env: Mapping[str, str] | None = None, app_module: str = "demo_project") -> WorkerProcess:
        worker = WorkerProcess(
            queues=tuple(queues),
            env={**self.env, **(env or {})},
            log_dir=self.log_dir,
            concurrency=concurrency,
            extra_args=tuple(extra_args),
            app_module=app_module,
        )
        self.workers.append(worker)
        return worker.start(self.app)

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers.clear()

    def logs(self) -> str:
        return "\n\n".join(f"== {w.hostname}\n{w.log_tail()}" for w in self.workers)


def worker_environment(database_url: str, broker_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a test worker: the test database, the broker, fast redelivery (on
    Redis; RabbitMQ hands a dead worker's messages out again as soon as its connection drops)."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker_url,
            # persistent connections (health-checked) as in a deployment: a new PostgreSQL
            # connection per task would dominate the per-hop latency
            "DATABASE_CONN_MAX_AGE": "600",
            "SELINON_BROKER_TRANSPORT_OPTIONS": json.dumps(
                TEST_TRANSPORT_OPTIONS if broker_url.startswith("redis://") else {}
            ),
            "SELINON_DJANGO_VAR_DIR": str(var_dir),
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
            "DJANGO_SETTINGS_MODULE": "demo_project.settings",
            "PYTHONUNBUFFERED": "1",
            # the safety net on a test's time scale
            "SELINON_SWEEP_INTERVAL": "1",
            "SELINON_SWEEP_GRACE": "3",
            "SELINON_LOST_TASK_AFTER": "20",
        }
    )
    env.update(extra)
    return env


# --- the broker ------------------------------------------------------------------------------


#: the brokers a test can run on (``broker`` fixture): scripts/services.sh starts Redis and
#: RabbitMQ; RABBITMQ_QUORUM is that RabbitMQ with every queue Celery creates a quorum queue
REDIS, RABBITMQ, RABBITMQ_QUORUM = "redis", "rabbitmq", "rabbitmq-quorum"

#: the virtual host of the quorum-queue tests: a queue cannot change its type, and the classic
#: tests' queues (same names) live in the default one
QUORUM_VHOST = "quorum"


@dataclass(frozen=True)
class Broker:
    """The broker of a test session's workers and of the test process: its kind and URL."""

    kind: str
    url: str

    def restart(self, *, keep_data: bool = True, down_for: Callable[[], Any] | None = None, app: Any = None) -> None:
        """Stop the broker and start it again: see :func:`restart_redis` and :func:`restart_rabbitmq`."""
        if self.kind in (RABBITMQ, RABBITMQ_QUORUM):
            restart_rabbitmq(keep_data=keep_data, down_for=down_for, app=app)
            if self.kind == RABBITMQ_QUORUM:
                rabbitmq_vhost(QUORUM_VHOST)  # gone with the data, if not kept
        else:
            restart_redis(self.url, keep_data=keep_data, down_for=down_for, app=app)


def rabbitmq_url(vhost: str = "") -> str:
    """The RabbitMQ node of scripts/services.sh (a virtual host of it), or fail: the RabbitMQ
    tests never skip."""
    url = os.environ.get("SELINON_TEST_AMQP_URL", "")
    if not url.startswith("amqp://"):
        raise ServicesMissing(
            "SELINON_TEST_AMQP_URL must name the RabbitMQ node of scripts/services.sh "
            f"(got {url!r}): run the tests through scripts/test.sh, or `source scripts/services.sh start`"
        )
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + vhost, "", "")) if vhost else url


def rabbitmq_vhost(name: str, *, fresh: bool = False) -> None:
    """Create the virtual host ``name`` on the test node for the test user (``fresh``: an empty
    one, whatever an earlier session declared in it: a queue or exchange cannot change its type)."""
    ctl = [str(_rabbitmq_dir() / "run"), "rabbitmqctl"]
    if fresh:
        subprocess.run([*ctl, "delete_vhost", name], check=False, capture_output=True, timeout=60)
    subprocess.run([*ctl, "add_vhost", name], check=False, capture_output=True, timeout=60)  # fails if it exists
    subprocess.run([*ctl, "set_permissions", "-p", name, "guest", ".*", ".*", ".*"], check=True,
                   capture_output=True, timeout=60)


def use_queue_type(app: Any, queue_type: str) -> None:
    """Make the queues this process's Celery app creates for the queues it publishes to of
    ``queue_type`` (``classic`` or ``quorum``), as the workers' settings make theirs: Celery
    chooses how to send a countdown by the type of the queue it routes to."""
    app.conf.task_create_missing_queue_type = queue_type
    for cached in ("queues", "router", "default_queue"):
        app.amqp.__dict__.pop(cached, None)


def use_broker(app: Any, url: str) -> None:
    """Point this process's Celery app at ``url``, dropping its pooled broker connections."""
    # the read and write URLs: Celery's broker_url is the CELERY_BROKER_URL environment variable
    # whenever that is set, whatever the configuration says
    app.conf.broker_read_url = app.conf.broker_write_url = url
    reset_connections(app)


def reset_connections(app: Any) -> None:
    """Drop this process's pooled broker connections: they point at a server that restarted."""
    from kombu import pools

    pools.reset()  # closes and forgets every pooled connection of this process
    app._pool = None
    app.amqp._producer_pool = None


def _redis_port(broker_url: str) -> int:
    port = urlsplit(broker_url).port
    if port is None:
        raise ServicesMissing(f"no port in {broker_url!r}")
    return port


def restart_redis(
    broker_url: str, *, keep_data: bool = True, down_for: Callable[[], Any] | None = None, app: Any = None
) -> None:
    """Stop the Redis of scripts/services.sh and start it again on the same port.

    ``keep_data`` saves the dataset on shutdown and loads it again (a Redis with persistence);
    without it every queued message is gone, which the outbox sweeper must make up for.
    ``down_for`` runs while the broker is down.
    """
    services_dir = os.environ.get("SERVICES_DIR")
    if not services_dir:
        raise ServicesMissing("SERVICES_DIR is not set: start the services with scripts/services.sh")
    port = _redis_port(broker_url)
    cli = ["redis-cli", "-p", str(port)]
    subprocess.run([*cli, "shutdown", "save" if keep_data else "nosave"], check=False, capture_output=True)
    wait_until(
        lambda: subprocess.run([*cli, "ping"], capture_output=True).returncode != 0,
        timeout=20, message="redis to stop",
    )
    if down_for is not None:
        down_for()
    subprocess.run(
        [
            "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "yes", "--pidfile", f"{services_dir}/redis.pid",
            "--logfile", f"{services_dir}/redis.log", "--dir", services_dir,
        ],
        check=True,
    )
    wait_until(
        lambda: subprocess.run([*cli, "ping"], capture_output=True).returncode == 0,
        timeout=20, message="redis to start",
    )
    if app is not None:
        reset_connections(app)


def _rabbitmq_dir() -> Path:
    services_dir = os.environ.get("SERVICES_DIR")
    if not services_dir or not (Path(services_dir) / "rabbitmq" / "start").exists():
        raise ServicesMissing("no RabbitMQ node in $SERVICES_DIR: start the services with scripts/services.sh")
    return Path(services_dir) / "rabbitmq"


def restart_rabbitmq(*, keep_data: bool = True, down_for: Callable[[], Any] | None = None, app: Any = None) -> None:
    """Stop the RabbitMQ node of scripts/services.sh (a clean shutdown) and start it again.

    ``keep_data`` keeps its data directory: durable queues come back with their persistent
    messages, as Celery declares and publishes them. Without it the node starts empty (its
    queues, messages and the sweeper's marker gone), which the sweeper must make up for.
    ``down_for`` runs while the broker is down.
    """
    node = _rabbitmq_dir()
    subprocess.run([str(node / "stop")], check=True, timeout=60)
    if not keep_data:
        shutil.rmtree(node / "mnesia", ignore_errors=True)
    if down_for is not None:
        down_for()
    subprocess.run([str(node / "start")], check=True, timeout=90)
    if app is not None:
        reset_connections(app)


def terminate_database_connections(cursor: Any) -> int:
    """Drop every other connection to the current database (``pg_terminate_backend``)."""
    cursor.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return int(cursor.fetchone()[0])


def python() -> str:
    return sys.executable
