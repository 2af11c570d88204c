"""Queries and time per hop, in one process, without a broker: where a hop's cost goes.

Run with a database (``source scripts/services.sh; services_start`` and then
``.venv/bin/python bench/profile_hops.py``): it migrates, loads the benchmark flows, starts
flows with messages captured instead of published, and serves each captured message by calling
the dispatcher or the envelope directly, counting the SQL statements and the time of each call.
``--profile`` prints a cProfile of the whole run (sorted by cumulative time).
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import os
import pstats
import sys
import time
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_project.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from selinon_django.models import FlowRun  # noqa: E402
from selinon_django.runtime import dispatcher, envelope, outbox  # noqa: E402
from selinon_django.runtime.api import run_flow  # noqa: E402
from selinon_django.runtime.messages import DISPATCHER_TASK  # noqa: E402

captured: collections.deque[outbox.Message] = collections.deque()


def _capture(messages: Any) -> None:
    for message in messages:
        # dispatcher messages first: a step per finishing task, the worst case of a big fan-in
        if message.task_name == DISPATCHER_TASK and os.environ.get("STEPS_FIRST"):
            captured.appendleft(message)
        else:
            captured.append(message)


def serve_all(stats: dict[str, list[tuple[int, float]]]) -> None:
    while captured:
        message = captured.popleft()
        # counting queries forces Django's debug cursor (it formats every statement): QUIET=1 skips it
        capture = contextlib.nullcontext([]) if os.environ.get("QUIET") else CaptureQueriesContext(connection)
        with capture as queries:
            start = time.perf_counter()
            if message.task_name == DISPATCHER_TASK:
                kwargs = message.kwargs
                dispatcher.handle_message(kwargs["run_id"], state_version=kwargs.get("state_version"),
                                          reason=kwargs.get("reason", "wakeup"))
                kind = "dispatcher"
            else:
                # as a worker consuming the message's queue serves it (successors may run inline)
                envelope.handle_message(message.options["task_id"], message.kwargs, hostname="profile",
                                        queue=message.options.get("queue"))
                kind = "task"
            elapsed = time.perf_counter() - start
        stats[kind].append((len(queries), elapsed))
        if os.environ.get("SHOW_SQL") and kind == "task":
            for q in queries.captured_queries:
                print(repr(q["sql"][:150]))
            os.environ.pop("SHOW_SQL")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chains", type=int, default=20)
    parser.add_argument("--fanout", type=int, default=0)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    call_command("selinon_load", "-n", "bench/flows/nodes.yaml", "-f", "bench/flows/flows", verbosity=0)
    outbox.publish = _capture  # type: ignore[assignment]
    profiler = cProfile.Profile() if args.profile else None
    stats: dict[str, list[tuple[int, float]]] = collections.defaultdict(list)
    reset_queries()
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    for _ in range(args.chains):
        run_id = run_flow("bench_chain5")
        serve_all(stats)
        assert FlowRun.objects.get(pk=run_id).status == "succeeded"
    chain_time = time.perf_counter() - started
    if args.fanout:
        started = time.perf_counter()
        run_id = run_flow("bench_fanout", {"count": args.fanout})
        serve_all(stats)
        assert FlowRun.objects.get(pk=run_id).status == "succeeded", FlowRun.objects.get(pk=run_id).status
        print(f"fan-out of {args.fanout}: {time.perf_counter() - started:.2f} s")
    if profiler:
        profiler.disable()
    for kind, values in stats.items():
        n = len(values)
        print(f"{kind:<10} calls {n:6d}  queries/call {sum(q for q, _ in values) / n:6.2f}  "
              f"ms/call {1000 * sum(t for _, t in values) / n:7.2f}")
    if args.chains:
        print(f"chains: {1000 * chain_time / args.chains:.1f} ms per chain of 5 (no broker)")
    if profiler:
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT","cumulative")).print_stats(int(os.environ.get("TOP","45")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
