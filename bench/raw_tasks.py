"""The raw-Celery baseline: no-op tasks, and a marker that records when a chain or group ended.

Workers of the benchmark import this module with ``-I bench.raw_tasks``. Completion is
recorded by the last task itself (a Redis ``SET``/``INCR`` with the wall-clock time) rather than
by polling a result backend, so the measured time is when the work ended, not when a poller
noticed; the Selinon side is measured the same way (``FlowRun.finished_at``).
"""
from __future__ import annotations

import os
import time
from functools import lru_cache
from typing import Any

import redis

from demo_project.celery import app

#: Redis keys live in a database of their own (not the broker's)
BENCH_REDIS_URL = os.environ.get("SELINON_BENCH_REDIS_URL") or os.environ.get(
    "SELINON_TEST_REDIS_URL", "redis://127.0.0.1:6379/1"
)


@lru_cache(maxsize=1)
def bench_redis() -> redis.Redis:
    return redis.Redis.from_url(BENCH_REDIS_URL)


@app.task(name="bench.noop", ignore_result=True, acks_late=True)
def noop(*args: Any, **kwargs: Any) -> None:
    """Does nothing: the cost measured is Celery's own."""
    return None


@app.task(name="bench.done", ignore_result=True, acks_late=True)
def done(*args: Any, key: str, **kwargs: Any) -> None:
    """The last task of a chain: records the end time under ``key`` and counts finished chains."""
    client = bench_redis()
    pipe = client.pipeline(transaction=False)
    pipe.set(f"{key}:end", repr(time.time()))
    pipe.incr(f"{key}:count")
    pipe.execute()


@app.task(name="bench.count", ignore_result=True, acks_late=True)
def count(*args: Any, key: str, **kwargs: Any) -> None:
    """A no-op member of a group that counts itself and records the time it ended."""
    client = bench_redis()
    pipe = client.pipeline(transaction=False)
    pipe.incr(f"{key}:count")
    pipe.set(f"{key}:end", repr(time.time()))
    pipe.execute()
