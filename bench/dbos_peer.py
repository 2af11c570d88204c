"""DBOS, the second peer of the benchmarks: the same three workloads as DBOS workflows.

DBOS (``pip install dbos``, installed for the benchmarks only from ``bench/requirements.txt``)
checkpoints every workflow and step in PostgreSQL. Here it uses the same PostgreSQL server and
database as the Selinon side (its tables in the ``dbos`` schema) and runs as DBOS runs
distributed work: worker processes (``python -m bench.dbos_peer``, as many as the Celery worker's
concurrency) dequeue workflows from a DBOS queue, and the benchmark is a client that enqueues them
(``DBOSClient``, no workflow code in the client):

1. chain of 5: one workflow of five no-op steps (each step is checkpointed before the next);
2. 100 chains at once: 100 such workflows enqueued together;
3. fan-out: a workflow that enqueues one no-op child workflow per item and waits for them all (the
   fan-out of DBOS' documentation), so the children spread over the worker processes.

DBOS queues are polled, not pushed: each worker looks for work every ``polling_interval_sec``
(DBOS' default is 1 s, which would make the chain's latency about half a second). The benchmark
registers its queue with :data:`QUEUE_POLL` seconds, the same order as a Celery worker waiting on
Redis, and says so beside the figures. End times come from DBOS' own records
(``workflow_status.updated_at`` of the finished workflow), as on the other sides.

No Django here: DBOS needs only the database URL.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from dbos import DBOS, DBOSClient

QUEUE = "bench_dbos"
#: seconds between two looks of a DBOS worker at its queue (DBOS' default is 1.0)
QUEUE_POLL = 0.01
#: seconds between two looks of the benchmark at the finished workflows; figures come from the records
POLL = 0.05
APP_NAME = "selinon_bench"


def database_url() -> str:
    """The benchmark's PostgreSQL database (``DATABASE_URL``) as SQLAlchemy and psycopg spell it."""
    url = os.environ["DATABASE_URL"]
    for prefix in ("postgres://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


# --- the worker process: the workflows and the queue ---------------------------------------


@DBOS.step(name="bench_noop")
def noop_step() -> None:
    """Does nothing: what is measured is DBOS' own checkpointing."""
    return None


@DBOS.workflow(name="bench_chain5")
def chain5() -> None:
    """Five no-op steps one after the other, the chain of 5."""
    for _ in range(5):
        noop_step()


@DBOS.workflow(name="bench_item")
def item() -> None:
    """One member of the fan-out: a workflow of one no-op step."""
    noop_step()


@DBOS.workflow(name="bench_fanout")
def fanout(count: int) -> int:
    """Enqueue ``count`` child workflows and wait for every one of them."""
    queue = DBOS.retrieve_queue(QUEUE)
    assert queue is not None, f"queue {QUEUE} is not registered"
    handles = [queue.enqueue(item) for _ in range(count)]
    for handle in handles:
        handle.get_result()
    return count


def worker() -> None:
    """Run one DBOS worker process until SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    DBOS(config={"name": APP_NAME, "system_database_url": database_url(), "log_level": "WARNING"})
    DBOS.launch()
    DBOS.register_queue(QUEUE, polling_interval_sec=QUEUE_POLL, on_conflict="always_update")
    print("ready", flush=True)
    stop.wait()
    DBOS.destroy()


@contextmanager
def workers(count: int) -> Iterator[None]:
    """``count`` DBOS worker processes for the duration of the block (the first one creates the
    ``dbos`` schema, so they start one after the other)."""
    processes: list[subprocess.Popen[str]] = []
    try:
        for _ in range(count):
            process = subprocess.Popen(
                [sys.executable, "-m", "bench.dbos_peer"], stdout=subprocess.PIPE, text=True
            )
            processes.append(process)
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                raise SystemExit("a DBOS worker did not start")
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- the benchmark's side: enqueue and read the records ------------------------------------


class Peer:
    """The client side: enqueues the workloads and reads their end from DBOS' records."""

    def __init__(self) -> None:
        self.client = DBOSClient(system_database_url=database_url())
        self.connection = psycopg.connect(database_url(), autocommit=True)

    def close(self) -> None:
        self.client.destroy()
        self.connection.close()

    def _enqueue(self, workflow: str, *args: Any) -> str:
        handle = self.client.enqueue({"queue_name": QUEUE, "workflow_name": workflow}, *args)
        return handle.get_workflow_id()

    def _finished(self, ids: list[str]) -> tuple[int, int, float | None]:
        row = self.connection.execute(
            "SELECT count(*) FILTER (WHERE status = 'SUCCESS'),"
            " count(*) FILTER (WHERE status IN ('ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED')),"
            " max(updated_at) FROM dbos.workflow_status WHERE workflow_uuid = ANY(%s)",
            (ids,),
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1]), (row[2] / 1000 if row[2] is not None else None)

    def _wait(self, ids: list[str], timeout: float, what: str) -> float:
        deadline = time.monotonic() + timeout
        while True:
            succeeded, failed, end = self._finished(ids)
            if failed:
                raise SystemExit(f"{failed} DBOS {what} workflow(s) failed")
            if succeeded == len(ids):
                assert end is not None
                return end
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for DBOS {what}")
            time.sleep(POLL)

    def chains(self, n: int) -> float:
        """Enqueue ``n`` chain workflows at once; seconds until the last one ended."""
        start = time.time()
        ids = [self._enqueue("bench_chain5") for _ in range(n)]
        return self._wait(ids, 600, "chains") - start

    def fanout(self, n: int) -> float:
        """One fan-out of ``n`` child workflows; seconds until the parent ended."""
        start = time.time()
        ids = [self._enqueue("bench_fanout", n)]
        return self._wait(ids, 1200, "fan-out") - start


if __name__ == "__main__":
    worker()
