"""``cancel_flow`` on the embedded default: a SQLite file and kombu's filesystem broker, no server.

This is the setup of ``scripts/demo.sh`` (``DATABASE_URL=sqlite:///...``, ``CELERY_BROKER_URL``
unset, so ``demo_project.settings`` picks ``filesystem://`` under ``SELINON_DJANGO_VAR_DIR``), in
a temporary directory: one real ``celery worker`` subprocess consuming both queues with ONE pool
process, and a driver process (``embedded_driver.py``) that calls the library's API on the same
database and broker, since this pytest process is configured for PostgreSQL and Redis.

The single pool process is what makes "the running task was terminated" observable: while the
cancelled task sleeps (60 s) nothing else can run, so a second flow finishing within a deadline
far shorter than that sleep shows that ``revoke(terminate=True)`` crossed the filesystem broker's
control channel and the worker replaced its pool process.
"""
from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.workers import REPO, WorkerProcess, wait_until, worker_environment

FLOWS_DIR = Path(__file__).resolve().parent / "flows"
#: the queues of the test flows (tests/integration/flows/nodes.yaml)
QUEUES = ("selinon_dispatcher", "selinon_tasks")
#: the cancelled task's sleep: far longer than any wait below
SLEEP = 60


class Driver:
    """The driver subprocess: ``call(op, **args)`` sends one request and returns its reply."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.integration.embedded_driver"],
                cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
            )
        self.selector = selectors.DefaultSelector()
        assert self.process.stdout is not None
        self.selector.register(self.process.stdout, selectors.EVENT_READ)

    def call(self, op: str, *, reply_within: float = 60, **args: Any) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write((json.dumps({"op": op, "args": args}) + "\n").encode())
        self.process.stdin.flush()
        if not self.selector.select(reply_within):
            raise AssertionError(f"driver gave no reply to {op} within {reply_within}s:\n{self.log_tail()}")
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"driver exited during {op}:\n{self.log_tail()}")
        reply = json.loads(line)
        if "error" in reply:
            raise AssertionError(f"{op}({args}) raised in the driver:\n{reply['error']}")
        return reply["ok"]

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)
        self.selector.close()


class _Control:
    """What :meth:`WorkerProcess.wait_ready` needs of a Celery app (``control.ping``), answered
    through the driver: readiness is a ping over the filesystem broker's control channel."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.control = self

    def ping(self, destination: list[str], timeout: float) -> list[dict[str, Any]]:
        replies: list[dict[str, Any]] = self.driver.call("ping", destination=destination, timeout=timeout)
        return replies


def embedded_environment(var_dir: Path) -> dict[str, str]:
    """The demo's environment: SQLite file, broker URL unset (the filesystem default)."""
    env = worker_environment(
        f"sqlite:///{var_dir / 'embedded.sqlite3'}", "", var_dir,
        # as scripts/demo.sh: poll the broker folder often
        SELINON_BROKER_TRANSPORT_OPTIONS=json.dumps({"polling_interval": 0.05}),
        DATABASE_CONN_MAX_AGE="0",
    )
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DATABASE_OPTIONS"):
        env.pop(name, None)
    return env


@pytest.fixture()
def embedded(tmp_path: Path, worker_logs: Path) -> Iterator[tuple[Driver, WorkerProcess]]:
    """A migrated SQLite database with the test flows loaded, its driver and one worker."""
    env = embedded_environment(tmp_path)
    assert "CELERY_BROKER_URL" not in env and env["DATABASE_URL"].startswith("sqlite:///")
    driver = Driver(env, worker_logs / f"embedded-driver-{os.getpid()}.log")
    worker = WorkerProcess(queues=QUEUES, env=env, log_dir=worker_logs, concurrency=1)
    try:
        driver.call("setup", nodes=str(FLOWS_DIR / "nodes.yaml"), flows=[str(FLOWS_DIR / "flows")])
        worker.start(_Control(driver), timeout=60)
        # the settings' default really is the filesystem transport, in this var dir
        assert (tmp_path / "broker").is_dir()
        yield driver, worker
    finally:
        worker.stop()
        driver.close()


def nodes(run: dict[str, Any]) -> set[tuple[str, str]]:
    return {(node["name"], node["status"]) for node in run["nodes"]}


def test_cancel_flow_on_sqlite_and_filesystem_broker(embedded: tuple[Driver, WorkerProcess]) -> None:
    driver, worker = embedded
    run_id = driver.call("run_flow", flow="sleepy", node_args={"sleep": SLEEP})
    wait_until(
        lambda: ("Sleep", "started") in nodes(driver.call("run", run_id=run_id)),
        timeout=30, interval=0.1,
        message=lambda: f"Sleep of {run_id} to start: {driver.call('run', run_id=run_id)}\n{worker.log_tail()}",
    )

    assert driver.call("cancel_flow", run_id=run_id) == 1
    cancelled = driver.call("run", run_id=run_id)
    assert cancelled["status"] == "revoked" and cancelled["finished"]
    assert nodes(cancelled) == {("T1", "succeeded"), ("Sleep", "revoked")}
    # Selinon's way of waiting sees the cancellation too (django-db results, in the SQLite file)
    wait_until(
        lambda: driver.call("result_state", run_id=run_id) == "REVOKED", timeout=20, interval=0.1,
        message=lambda: f"REVOKED in the result backend (now {driver.call('result_state', run_id=run_id)})",
    )

    # the only pool process was running Sleep: a second flow can finish only once it is terminated
    second = driver.call("run_flow", flow="chain5", node_args={"x": 1})
    finished = wait_until(
        lambda: (lambda run: run if run["finished"] else None)(driver.call("run", run_id=second)),
        timeout=SLEEP / 3, interval=0.1,
        message=lambda: f"a second flow to finish on the same worker\n{worker.log_tail()}",
    )
    assert finished["status"] == "succeeded"
    assert nodes(finished) == {(f"T{i}", "succeeded") for i in range(1, 6)}
    assert len(finished["nodes"]) == 5
    assert worker.alive()

    # the terminated task did not turn its revoked row into anything else, and nothing followed it
    after = driver.call("run", run_id=run_id)
    assert after["status"] == "revoked"
    assert nodes(after) == {("T1", "succeeded"), ("Sleep", "revoked")} and len(after["nodes"]) == 2
    assert driver.call("result_state", run_id=run_id) == "REVOKED"
