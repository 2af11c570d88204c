"""Selinon flows against raw Celery and DBOS, on the same broker, workers and PostgreSQL.

Run through ``bash bench/run.sh`` (it starts PostgreSQL, Redis and the workers, with the demo
project's settings as a user copies them). Four comparisons, each printing its ratio to raw Celery:

1. end to end, as a user waits: ``run_flow(...)`` then ``AsyncResult(run_id).get()`` against a raw
   Celery ``chain(...).apply_async().get()`` at Celery's own defaults (early ack, Redis result
   backend, its own worker of the same concurrency, same broker: :mod:`bench.e2e_raw`), the two
   alternating, median of N;
2. latency of a chain of 5 no-op tasks, median of N runs one after the other (raw and ours
   alternating);
3. throughput: 100 chains started at once, time until the last one ended;
4. fan-out: a foreach of 5,000 no-op tasks against a raw ``group`` of 5,000.

DBOS (:mod:`bench.dbos_peer`) runs 2-4 as DBOS workflows on the same PostgreSQL, with as many
worker processes as the Celery worker's concurrency, after the Celery side (its workers poll, so
they run only for their part); its ratio to raw Celery is printed beside ours. For a chain of 5,
the rows inserted and updated and the WAL written per node are read from PostgreSQL's counters
(:mod:`bench.db_cost`) for both.

In 2-4 end times come from the side that finished the work, not from a poller: the raw tasks
record ``time.time()`` in Redis, the Selinon runs have ``FlowRun.finished_at``, DBOS its
``workflow_status.updated_at`` (all on this machine's clock), so the poll interval of this script
does not enter the figures (it polls every 50 ms, so the looking does not take CPU from the
workers either). Every state change of the Selinon runs is persisted (flow-run and node-run rows,
trace rows, outbox). In 1 the client's own clock measures, waiting included: that is the point.
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

import psycopg  # noqa: E402
from celery import chain, group  # noqa: E402

from bench import dbos_peer, e2e_raw  # noqa: E402
from bench.db_cost import describe, measure  # noqa: E402
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


def raw_chain_get() -> None:
    """A raw chain of 5 at Celery's defaults, waited for with ``.get()``."""
    chain(*(e2e_raw.noop.si() for _ in range(5))).apply_async().get(timeout=60)


def selinon_chain_get() -> None:
    """A chain of 5 flow as a user runs it: ``run_flow(...)`` then ``AsyncResult(run_id).get()``."""
    run_flow("bench_chain5").get(timeout=60)


def selinon_chain_get_10ms() -> None:
    """The same, the result backend asked every 10 ms instead of ``get()``'s default 0.5 s: what the
    waiting costs apart from the polling interval (a figure to read, not a default a user gets)."""
    run_flow("bench_chain5").get(timeout=60, interval=0.01)


def timed(function: Callable[[], Any]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def report(
    name: str, raw: float, selinon: float, *, higher_is_better: bool, target: float, unit: str,
    dbos: float | None = None,
) -> dict[str, Any]:
    """One line: raw Celery, ours and its ratio against the target, DBOS and its ratio if measured."""
    ratio = selinon / raw
    ok = ratio >= target if higher_is_better else ratio <= target
    sign = ">=" if higher_is_better else "<="
    line = (f"{name:<34} raw {raw:9.2f} {unit:<8} selinon {selinon:9.2f} ratio {ratio:5.2f}x "
            f"(target {sign} {target}x) {'OK    ' if ok else 'MISSED'}")
    if dbos is not None:
        line += f" | dbos {dbos:9.2f} ratio {dbos / raw:5.2f}x"
    print(line)
    return {"name": name, "unit": unit, "raw": raw, "selinon": selinon, "ratio": ratio, "target": target, "ok": ok,
            "dbos": dbos, "dbos_ratio": None if dbos is None else dbos / raw}


def dbos_side(args: argparse.Namespace, workers: int, connection: psycopg.Connection[Any]) -> dict[str, float]:
    """The three workloads as DBOS workflows, and the database cost of its chain."""
    with dbos_peer.workers(workers):
        peer = dbos_peer.Peer()
        try:
            peer.chains(2)  # warm up
            figures = {
                "latency": statistics.median(peer.chains(1) for _ in range(args.latency_runs)) * 1000,
                "throughput": args.flows / peer.chains(args.flows),
                "fanout": args.fanout / peer.fanout(args.fanout),
            }
            cost = measure(connection, ("dbos",), lambda: [peer.chains(1) for _ in range(args.cost_chains)])
            print(describe("dbos: chain of 5, database", cost, 5 * args.cost_chains))
        finally:
            peer.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-runs", type=int, default=20)
    parser.add_argument("--flows", type=int, default=100)
    parser.add_argument("--fanout", type=int, default=5000)
    parser.add_argument("--cost-chains", type=int, default=20, help="chains measured for the database cost")
    parser.add_argument("--no-dbos", action="store_true", help="leave DBOS out")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    workers = int(os.environ.get("BENCH_CONCURRENCY", "2"))
    connection = psycopg.connect(dbos_peer.database_url(), autocommit=True)

    # warm up both sides (imports, connections, the configuration cache)
    raw_chains(2)
    flows("bench_chain5", 2)
    raw_chain_get()
    selinon_chain_get()

    raw_e2e: list[float] = []
    sel_e2e: list[float] = []
    sel_e2e_10ms: list[float] = []
    for _ in range(args.latency_runs):
        raw_e2e.append(timed(raw_chain_get) * 1000)
        sel_e2e.append(timed(selinon_chain_get) * 1000)
        sel_e2e_10ms.append(timed(selinon_chain_get_10ms) * 1000)
    e2e = report("end to end: run_flow + get (median)", statistics.median(raw_e2e), statistics.median(sel_e2e),
                 higher_is_better=False, target=1.0, unit="ms")
    raw_ms, fast_ms = statistics.median(raw_e2e), statistics.median(sel_e2e_10ms)
    e2e["selinon_get_interval_10ms"] = fast_ms
    print(f"{'  the same, get(interval=0.01)':<34} raw {raw_ms:9.2f} ms       selinon {fast_ms:9.2f} "
          f"ratio {fast_ms / raw_ms:5.2f}x (not a default: where the time goes)")

    # alternating, so that a load that comes and goes on a shared machine falls on both sides
    raw_latencies: list[float] = []
    sel_latencies: list[float] = []
    for _ in range(args.latency_runs):
        raw_latencies.append(raw_chains(1))
        sel_latencies.append(flows("bench_chain5", 1))
    raw_lat, sel_lat = statistics.median(raw_latencies) * 1000, statistics.median(sel_latencies) * 1000
    raw_tp = args.flows / raw_chains(args.flows)
    sel_tp = args.flows / flows("bench_chain5", args.flows)
    raw_fan = args.fanout / raw_group(args.fanout)
    sel_fan = args.fanout / flows("bench_fanout", 1, {"count": args.fanout})
    cost = measure(connection, ("public",), lambda: [flows("bench_chain5", 1) for _ in range(args.cost_chains)])
    print(describe("selinon: chain of 5, database", cost, 5 * args.cost_chains))

    dbos = None if args.no_dbos else dbos_side(args, workers, connection)
    results = [
        e2e,
        report("chain of 5: latency (median)", raw_lat, sel_lat, higher_is_better=False, target=1.25, unit="ms",
               dbos=dbos and dbos["latency"]),
        report(f"{args.flows} chains at once: throughput", raw_tp, sel_tp, higher_is_better=True, target=0.8,
               unit="chains/s", dbos=dbos and dbos["throughput"]),
        report(f"fan-out of {args.fanout}: throughput", raw_fan, sel_fan, higher_is_better=True, target=0.8,
               unit="tasks/s", dbos=dbos and dbos["fanout"]),
    ]
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
