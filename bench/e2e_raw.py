"""Raw Celery at its own defaults, the baseline of the end-to-end comparison.

A Celery app configured with nothing but its broker (the benchmark's), a Redis result backend and
a queue of its own: early acknowledgement, the default prefetch, results stored. Its worker is its
own (``celery -A bench.e2e_raw worker``, same concurrency as the project's). A user waits for a
chain with ``chain(...).apply_async().get()``, which Celery's Redis backend answers through
publish/subscribe: that is what ``run_flow(...)`` + ``AsyncResult(run_id).get()`` is measured
against.
"""
from __future__ import annotations

import os
from typing import Any

from celery import Celery


def result_backend_url() -> str:
    """Redis database 2 of the broker's Redis (the bench's own keys are in 1, the broker in 0)."""
    broker = os.environ["CELERY_BROKER_URL"]
    return broker.rsplit("/", 1)[0] + "/2"


#: not the current app: the benchmark's process also runs the project's app, which the runtime
#: finds as Celery's current app
app = Celery(
    "bench_e2e", broker=os.environ.get("CELERY_BROKER_URL"), backend=result_backend_url(), set_as_current=False
)
# a queue of its own, so the project's workers never see these tasks (not a tuning setting)
app.conf.task_default_queue = "bench_e2e"


@app.task(name="bench_e2e.noop")
def noop(*args: Any, **kwargs: Any) -> None:
    """Does nothing: the cost measured is Celery's own."""
    return None
