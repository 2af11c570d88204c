"""What keeping task logs costs: a task that logs nothing, one that logs, and reading a log back.

Runs attempts in this process through ``run_attempt`` (the code a worker runs) against the
configured database, with the database sink installed, and prints medians:

1. an attempt of a task that logs nothing, with TASK_LOGS on and off (the capture must cost
   nothing measurable: no query, no row, no thread);
2. an attempt of a task that logs 100 lines (one batch: the first line's query, one insert);
3. reading a node's log of TASK_LOG_MAX_BYTES (the node-run page's panel, the REST page).

``python -m bench.task_logs`` (DATABASE_URL naming a migrated database; ``manage.py migrate``
first). The rows it makes are deleted at the end.
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
import uuid
from collections.abc import Callable

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_project.settings")
django.setup()

from django.test import override_settings  # noqa: E402

from selinon_django.admin.task_logs import node_panel  # noqa: E402
from selinon_django.config import SourceFile, load_config_from_sources  # noqa: E402
from selinon_django.models import FlowRun, NodeRun, NodeRunLog  # noqa: E402
from selinon_django.revisions import load_revision  # noqa: E402
from selinon_django.runtime.configs import config_for  # noqa: E402
from selinon_django.runtime.execution import run_attempt  # noqa: E402
from selinon_django.storages.pool import StoragePool  # noqa: E402

NODES = """\
tasks:
  - {name: Silent, import: tests.integration.log_tasks, classname: Silent}
  - {name: Chatty, import: tests.integration.log_tasks, classname: Chatty}
  - {name: Flood, import: tests.integration.log_tasks, classname: Flood}
flows: [bench_logs]
"""
FLOWS = """\
flow-definitions:
  - {name: bench_logs, edges: [{from: [], to: [Silent, Chatty, Flood]}]}
"""


def median_ms(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.INFO)  # as a worker started with -l info
    logging.getLogger().handlers = [logging.NullHandler()]  # (the lines are not printed here)
    revision, _ = load_revision(load_config_from_sources(
        [SourceFile("nodes.yaml", "nodes", NODES), SourceFile("flows.yaml", "flows", FLOWS)]))
    config = config_for(revision.pk)
    pool = StoragePool.for_config(config)
    run = FlowRun.objects.create(id=f"bench-logs-{uuid.uuid4()}", flow_name="bench_logs", revision=revision,
                                 status="running")
    nodes = {name: NodeRun.objects.create(id=f"{run.pk}-{name}", flow_run=run, name=name, status="started",
                                          attempts=1) for name in ("Silent", "Chatty", "Flood")}

    def attempt(name: str, node_args: object = None) -> Callable[[], object]:
        return lambda: run_attempt(config, pool, flow_name="bench_logs", task_name=name, task_id=nodes[name].pk,
                                   dispatcher_id=run.pk, parent=None, node_args=node_args, retried_count=0)

    try:
        attempt("Silent")()  # warm up imports and caches
        with override_settings(SELINON_DJANGO={"TASK_LOGS": False}):
            off = median_ms(attempt("Silent"), args.repeat)
        on = median_ms(attempt("Silent"), args.repeat)
        print(f"{'attempt, logs nothing, TASK_LOGS off':<44} {off * 1000:8.1f} us")
        print(f"{'attempt, logs nothing, TASK_LOGS on':<44} {on * 1000:8.1f} us  ({(on - off) * 1000:+.1f} us)")
        with override_settings(SELINON_DJANGO={"TASK_LOG_MAX_BYTES": 64 * 1024 * 1024}):
            chatty = median_ms(attempt("Chatty", {"lines": 100}), max(10, args.repeat // 20))
        batches = NodeRunLog.objects.filter(node_run_id=nodes["Chatty"].pk).count()
        runs = max(10, args.repeat // 20)
        print(f"{'attempt, logs 100 lines':<44} {chatty:8.2f} ms  ({batches / runs:.1f} row(s) per attempt)")
        attempt("Flood", {"lines": 3000, "width": 94})()  # fills the default bound (256 KiB) and drops the rest
        kept = sum(NodeRunLog.objects.filter(node_run_id=nodes["Flood"].pk).values_list("size", flat=True))
        read = median_ms(lambda: node_panel(NodeRun.objects.get(pk=nodes["Flood"].pk)), 20)
        label = f"node-run log panel, {kept // 1024} KiB kept"
        print(f"{label:<44} {read:8.2f} ms")
    finally:
        FlowRun.objects.filter(pk=run.pk).delete()  # its nodes and log rows go with it
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
