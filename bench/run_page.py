"""The run page of a 1,000-node run, and one live update of it while it runs, on a big table.

Run with ``bash bench/run_page.sh`` (a throw-away PostgreSQL unless DATABASE_URL is set). The
table is the one of ``bench/admin_pages.py`` (100,000 runs, 1,000,000 node runs, written by the
database with ``generate_series``), plus two ``bench_fanout`` runs of 1,000 ``Item`` node runs
each (one finished, one running: 900 done, 60 running, 40 queued) with 3,000 trace events each.
Pages are requested through Django's test client as a staff user holding only the view
permissions (DEBUG off); figures are medians of ``--repeat`` requests after a warm-up, with the
number of SQL queries and the size of the answer. The live update is measured as the page does
it: the cursor of the page's last answer, then 5 node runs finish, then one poll. For comparison
the full answer (every part of the page, what each poll sent before) is printed too. Nothing is
asserted: the numbers are printed, to be compared with "well under a second" and "under 10 kB".
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

# run as a script: the checkout, not bench/ (where bench.py would shadow the package), on the path
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path.insert(0, os.path.dirname(HERE))

from django.contrib.auth.models import Permission, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from bench.admin_pages import FLOWRUN, NODERUN, build  # noqa: E402  (sets Django up)
from selinon_django.models import ConfigRevision, FlowRun, NodeRun, TraceEventRecord  # noqa: E402

TRACE = TraceEventRecord._meta.db_table
USERNAME = "bench-run-viewer"
BIG = {"finished": "big-run-finished", "running": "big-run-running"}
NODES = 1000


def build_big_runs() -> None:
    """Two ``bench_fanout`` runs of NODES ``Item`` node runs, their trace events (SQL)."""
    revision = ConfigRevision.objects.current()
    assert revision is not None
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TRACE} WHERE flow_run_id = ANY(%s)", [list(BIG.values())])
        cursor.execute(f"DELETE FROM {NODERUN} WHERE flow_run_id = ANY(%s)", [list(BIG.values())])
        cursor.execute(f"DELETE FROM {FLOWRUN} WHERE id = ANY(%s)", [list(BIG.values())])
        for kind, run_id in BIG.items():
            running = kind == "running"
            cursor.execute(
                f"""INSERT INTO {FLOWRUN} (id, flow_name, revision_id, node_args, state, state_version, status,
                        retried_count, migration_version, error, created_at, started_at, finished_at, updated_at,
                        next_wakeup_at)
                    VALUES (%s, 'bench_fanout', %s, '{{"items": 1000}}'::jsonb, %s::jsonb, 900, %s, 0, 0, '',
                            now() - interval '60 seconds', now() - interval '60 seconds',
                            CASE WHEN %s THEN NULL ELSE now() END, now() - interval '10 seconds',
                            CASE WHEN %s THEN now() + interval '2 seconds' END)""",
                [run_id, revision.pk,
                 json.dumps({"active_nodes": [], "finished_nodes": {}, "failed_nodes": {}, "waiting_edges": [],
                             "triggered_edges": [0]}),
                 "running" if running else "succeeded", running, running],
            )
            # instance n: queued at n * 50 ms, runs 0.2 to 1.1 s; the running run's last 100 are
            # still running (60) or queued (40)
            cursor.execute(
                f"""INSERT INTO {NODERUN} (id, flow_run_id, name, kind, status, node_args, result, exception,
                        traceback, attempts, worker, is_fallback, is_nowait, created_at, sent_at, started_at,
                        finished_at, updated_at)
                    SELECT %s || '-item-' || n, %s, 'Item', 'task',
                        CASE WHEN %s AND n >= 960 THEN 'sent' WHEN %s AND n >= 900 THEN 'started'
                             WHEN n %% 101 = 7 THEN 'failed' ELSE 'succeeded' END,
                        '{{"items": 1000}}'::jsonb, jsonb_build_object('item', n),
                        CASE WHEN n %% 101 = 7 THEN 'ValueError: item ' || n || ' is bad' ELSE '' END,
                        '', 1, 'bench@host', false, false,
                        now() - interval '59 seconds' + make_interval(secs => n * 0.05),
                        now() - interval '59 seconds' + make_interval(secs => n * 0.05),
                        CASE WHEN %s AND n >= 960 THEN NULL
                             ELSE now() - interval '59 seconds' + make_interval(secs => n * 0.05 + 0.1) END,
                        CASE WHEN %s AND n >= 900 THEN NULL
                             ELSE now() - interval '59 seconds'
                                  + make_interval(secs => n * 0.05 + 0.3 + (n %% 10) * 0.1) END,
                        now() - interval '10 seconds'
                    FROM generate_series(0, %s - 1) AS n""",
                [run_id, run_id, running, running, running, running, NODES],
            )
            cursor.execute(
                f"""INSERT INTO {TRACE} (flow_run_id, node_run_id, event, details, created_at)
                    SELECT %s, %s || '-item-' || (e / 3),
                        (ARRAY['TASK_SCHEDULE', 'TASK_START', 'TASK_END'])[1 + e %% 3],
                        jsonb_build_object('flow_name', 'bench_fanout', 'task_name', 'Item'),
                        now() - interval '59 seconds' + make_interval(secs => e * 0.0167)
                    FROM generate_series(0, 3 * %s - 1) AS e""",
                [run_id, run_id, NODES],
            )
        active = [{"name": "Item", "id": f"{BIG['running']}-item-{n}"} for n in range(900, NODES)]
        cursor.execute(f"UPDATE {FLOWRUN} SET state = %s::jsonb WHERE id = %s",
                       [json.dumps({"active_nodes": active, "finished_nodes": {"Item": []}, "failed_nodes": {},
                                    "waiting_edges": [], "triggered_edges": [0]}), BIG["running"]])
        cursor.execute(f"ANALYZE {NODERUN}")
    print(f"built two runs of {NODES:,} node runs in {time.perf_counter() - started:.1f} s")


def viewer() -> Client:
    user, _ = User.objects.get_or_create(username=USERNAME, defaults={"is_staff": True})
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_flowrun", "view_noderun"]))
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, int, Any]:
    """(median seconds, queries of one call, the last answer)."""
    queries: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries.append(sql)
        return execute(sql, params, many, context)

    answer = call()  # warm-up
    with connection.execute_wrapper(count):
        answer = call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        answer = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(queries), answer


def finish_some(count: int) -> None:
    """``count`` running instances of the running run finish, as a worker and a dispatcher write it."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {NODERUN} SET status = 'succeeded', finished_at = now(), updated_at = now()
                WHERE id IN (SELECT id FROM {NODERUN} WHERE flow_run_id = %s AND status = 'started'
                             ORDER BY id LIMIT %s)""",
            [BIG["running"], count],
        )
        cursor.execute(f"UPDATE {FLOWRUN} SET state_version = state_version + 1, updated_at = now() WHERE id = %s",
                       [BIG["running"]])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--nodes-per-run", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="use the big table already there when the counts match")
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        raise SystemExit("this benchmark needs PostgreSQL (set DATABASE_URL, or run bench/run_page.sh)")
    call_command("migrate", verbosity=0)
    if not (args.keep and FlowRun.objects.filter(parent_run__isnull=True).count() >= args.runs * 2 // 3):
        build(args.runs, args.nodes_per_run)
    build_big_runs()
    print(f"table: {FlowRun.objects.count():,} runs, {NodeRun.objects.count():,} node runs")
    client = viewer()
    admin = "/admin/selinon_django/flowrun"
    print(f"{'request':52} {'median':>10} {'queries':>8} {'bytes':>9}")

    def page(name: str, url: str, params: dict[str, Any] | None = None) -> Any:
        seconds, queries, response = timed(lambda: client.get(url, params or {}), args.repeat)
        assert response.status_code == 200, (url, response.status_code)
        print(f"{name:52} {seconds * 1000:8.1f} ms {queries:8d} {len(response.content):9,d}")
        return response

    page("run page, 1,000 nodes, finished", f"{admin}/{BIG['finished']}/change/")
    running_page = page("run page, 1,000 nodes, running", f"{admin}/{BIG['running']}/change/")
    page("its foreach's instances, first 50 (opened group)", f"{admin}/{BIG['running']}/instances/",
         {"name": "Item"})
    page("its timeline row opened: 200 instances, longest", f"{admin}/{BIG['running']}/instances/",
         {"name": "Item", "view": "timeline", "sort": "longest"})
    page("search within the run: 'is bad'", f"{admin}/{BIG['running']}/search/", {"q": "is bad"})
    page("full live answer (what every poll sent before)", f"{admin}/{BIG['running']}/live/")

    html = running_page.content.decode()
    cursor = html.split('data-cursor="', 1)[1].split('"', 1)[0]
    live = f"{admin}/{BIG['running']}/live/"
    seconds, queries, quiet = timed(lambda: client.get(live, {"since": cursor}), args.repeat)
    print(f"{'live update, nothing changed':52} {seconds * 1000:8.1f} ms {queries:8d} {len(quiet.content):9,d}")
    cursor = quiet.json()["cursor"]
    finish_some(5)
    start = time.perf_counter()
    delta = client.get(live, {"since": cursor})
    took = time.perf_counter() - start
    data = delta.json()
    print(f"{'live update, 5 of 1,000 node runs finished':52} {took * 1000:8.1f} ms {'':>8} {len(delta.content):9,d}"
          f"   ({len(data['nodes'])} node rows, {len(data['groups'])} group, summary "
          f"{'yes' if 'summary' in data else 'no'})")
    # the same poll again a second later: only what the overlap re-reads
    time.sleep(1.1)
    again = client.get(live, {"since": data["cursor"]})
    print(f"{'the next poll (nothing new)':52} {'':>10} {'':>8} {len(again.content):9,d}")


if __name__ == "__main__":
    main()
