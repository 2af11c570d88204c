"""Selinon flows against raw Celery on the same broker, workers and concurrency.

Run through ``bash bench/run.sh`` (it starts PostgreSQL, Redis and the workers). Three
comparisons, each printing its ratio:

1. latency of a chain of 5 no-op tasks, median of N runs one after the other;
2. throughput: 100 chains started at once, time until the last one ended;
3. fan-out: a foreach of 5,000 no-op tasks against a raw ``group`` of 5,000.

End times come from the side that finished the work, not from a poller: the raw tasks record
``time.time()`` in Redis, the Selinon runs have ``FlowRun.finished_at`` (both on this machine's
clock), so the poll interval of this script does not enter the figures (it polls every 50 ms, so
the looking does not take CPU from the workers either). Every state change of
the Selinon runs is persisted (flow-run and node-run rows, trace rows, outbox).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_project.settings")
django.setup()

from celery import chain, group  # noqa: E402

from bench.raw_tasks import bench_redis, count, done, noop  # noqa: E402
from selinon_django.models import FlowRun  # noqa: E402
from selinon_django.runtime.api import run_flow  # noqa: E402

RAW_QUEUE = "bench_tasks"
#: seconds between two looks for the end; the figures come from the records, so this only decides
#: how much CPU the looking takes from the workers on a small machine (a count query every 2 ms
#: took a third of a core from the Selinon side, a Redis GET much less from the raw side)
POLL = 0.05


def wait(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(POLL)


# --- raw Celery ----------------------------------------------------------------------------


def raw_chains(n: int) -> float:
    """Start ``n`` raw chains of 5 at once; seconds until the last one ended."""
    key = f"bench:{uuid.uuid4().hex}"
    redis = bench_redis()
    start = time.time()
    for _ in range(n):
        chain(
            noop.si().set(queue=RAW_QUEUE), noop.si().set(queue=RAW_QUEUE), noop.si().set(queue=RAW_QUEUE),
            noop.si().set(queue=RAW_QUEUE), done.si(key=key).set(queue=RAW_QUEUE),
        ).apply_async()
    wait(lambda: int(redis.get(f"{key}:count") or 0) >= n, 600, "raw chains")
    return float(redis.get(f"{key}:end")) - start


def raw_group(n: int) -> float:
    key = f"bench:{uuid.uuid4().hex}"
    redis = bench_redis()
    start = time.time()
    group(count.si(key=key).set(queue=RAW_QUEUE) for _ in range(n)).apply_async()
    wait(lambda: int(redis.get(f"{key}:count") or 0) >= n, 600, "raw group")
    return float(redis.get(f"{key}:end")) - start


# --- Selinon -------------------------------------------------------------------------------


def flows(flow_name: str, n: int, node_args: Any = None, timeout: float = 600) -> float:
    start = time.time()
    ids = [run_flow(flow_name, node_args) for _ in range(n)]
    wait(lambda: FlowRun.objects.filter(pk__in=ids, finished_at__isnull=False).count() == n, timeout, flow_name)
    failed = FlowRun.objects.filter(pk__in=ids).exclude(status="succeeded").count()
    if failed:
        raise SystemExit(f"{failed} {flow_name} run(s) did not succeed")
    last = max(FlowRun.objects.filter(pk__in=ids).values_list("finished_at", flat=True))
    return last.timestamp() - start


def report(
    name: str, raw: float, selinon: float, *, higher_is_better: bool, target: float, unit: str
) -> dict[str, Any]:
    ratio = selinon / raw
    ok = ratio >= target if higher_is_better else ratio <= target
    sign = ">=" if higher_is_better else "<="
    print(f"{name:<34} raw {raw:10.2f} {unit:<8} selinon {selinon:10.2f} {unit:<8} ratio {ratio:5.2f}x "
          f"(target {sign} {target}x) {'OK' if ok else 'MISSED'}")
    return {"name": name, "raw": raw, "selinon": selinon, "ratio": ratio, "target": target, "ok": ok}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-runs", type=int, default=20)
    parser.add_argument("--flows", type=int, default=100)
    parser.add_argument("--fanout", type=int, default=5000)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()

    # warm up both sides (imports, connections, the configuration cache)
    raw_chains(2)
    flows("bench_chain5", 2)

    results = []
    raw_lat = statistics.median(raw_chains(1) for _ in range(args.latency_runs)) * 1000
    sel_lat = statistics.median(flows("bench_chain5", 1) for _ in range(args.latency_runs)) * 1000
    results.append(report("chain of 5: latency (median)", raw_lat, sel_lat, higher_is_better=False, target=1.25,
                          unit="ms"))

    raw_tp = args.flows / raw_chains(args.flows)
    sel_tp = args.flows / flows("bench_chain5", args.flows)
    results.append(report(f"{args.flows} chains at once: throughput", raw_tp, sel_tp, higher_is_better=True,
                          target=0.8, unit="chains/s"))

    raw_fan = args.fanout / raw_group(args.fanout)
    sel_fan = args.fanout / flows("bench_fanout", 1, {"count": args.fanout})
    results.append(report(f"fan-out of {args.fanout}: throughput", raw_fan, sel_fan, higher_is_better=True,
                          target=0.8, unit="tasks/s"))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
