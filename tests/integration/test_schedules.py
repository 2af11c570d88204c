"""Scheduled flows on real processes: a Celery beat process with django-celery-beat's database
scheduler reads the entries ``selinon_load`` wrote, sends its ticks to a real worker, and the
flows run; a schedule that skips while its last run runs records skipped ticks instead."""
from __future__ import annotations

import itertools
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.workers import CELERY, REPO, WorkerPool, wait_until
from tests.worker_fixtures import FLOWS_DIR

pytestmark = pytest.mark.integration

SCHEDULES = """
schedules:
  every_second:
    flow: chain5
    interval: {every: 1, period: seconds}
    on_overlap: queue
  slow:
    flow: sleepy
    node_args: {sleep: 4}
    interval: {every: 1, period: seconds}
"""


@pytest.fixture
def beat(worker_env: dict[str, str], worker_logs: Path) -> Iterator[Path]:
    """``celery beat`` with the database scheduler, checking for changed entries every second."""
    log = worker_logs / "beat.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(CELERY), "-A", "demo_project", "beat", "-S", "django_celery_beat.schedulers:DatabaseScheduler",
             "--max-interval", "1", "-l", "INFO", "--pidfile", ""],
            cwd=REPO, env=worker_env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        yield log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_beat_starts_the_scheduled_flows_on_a_real_worker(
    live_workers: WorkerPool, load_flows: Any, beat: Path, tmp_path: Path
) -> None:
    from selinon_django.models import FlowRun, ScheduleTick

    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(SCHEDULES)
    load_flows(FLOWS_DIR / "nodes.yaml", [FLOWS_DIR / "flows", schedules])

    def succeeded(schedule: str) -> int:
        runs = ScheduleTick.objects.filter(schedule=schedule, outcome="started").values("run_id")
        return FlowRun.objects.filter(pk__in=runs, status="succeeded").count()

    wait_until(lambda: succeeded("selinon:every_second") >= 3, timeout=60,
               message=lambda: f"three scheduled chain5 runs:\n{beat.read_text()[-3000:]}\n{live_workers.logs()}")
    wait_until(lambda: ScheduleTick.objects.filter(schedule="selinon:slow", outcome="skipped").exists(), timeout=30,
               message=lambda: f"a skipped tick of the slow schedule:\n{beat.read_text()[-3000:]}")
    slow = ScheduleTick.objects.filter(schedule="selinon:slow")
    started = list(slow.filter(outcome="started").values_list("run_id", flat=True))
    # never two slow runs at once: each started tick found the previous run finished
    runs = list(FlowRun.objects.filter(pk__in=started).order_by("created_at").values_list("created_at", "finished_at"))
    for (_, previous_end), (next_start, _) in itertools.pairwise(runs):
        assert previous_end is not None and previous_end <= next_start
    assert FlowRun.objects.filter(flow_name="chain5", status="failed").count() == 0
