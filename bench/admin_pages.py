"""The operator's admin pages on a big run table: the runs list, a filtered list, the dashboard and
the grid on 100,000 runs and 1,000,000 node runs (PostgreSQL).

Run with ``bash bench/admin_pages.sh`` (it starts a throw-away PostgreSQL unless DATABASE_URL is
set, migrates, builds the data and prints the times). The data is written by the database itself
(``generate_series``, one INSERT per table, then ANALYZE): a few seconds per million rows. Runs
are spread over the last ten days, a third of them sub-flow runs, 2 % unfinished, 10 % failed with
an exception on one of their ten node runs. Each page is requested through Django's test client
as a staff user holding only ``view_flowrun`` (DEBUG off, as deployed); the figure is the median
server time of ``--repeat`` requests after one warm-up, with the number of SQL queries of one.
Nothing is asserted: the numbers are printed, to be compared with "well under a second".
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_project.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
django.setup()

from django.contrib.auth.models import Permission, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from selinon_django.models import ConfigRevision, FlowRun, NodeRun  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FLOWRUN = FlowRun._meta.db_table
NODERUN = NodeRun._meta.db_table
USERNAME = "bench-viewer"


def build(runs: int, nodes_per_run: int) -> None:
    """``runs`` runs of the revision's flows, ``nodes_per_run`` node runs each, written in SQL."""
    call_command("selinon_load", "-n", f"{HERE}/flows/nodes.yaml", "-f", f"{HERE}/flows/flows", verbosity=0)
    revision = ConfigRevision.objects.current()
    assert revision is not None
    flows = sorted(revision.flows.values_list("name", flat=True))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {NODERUN}, {FLOWRUN} CASCADE")
        # run i: created i * 8.64 s ago (10 days for 100,000); every third run (i % 3 = 2) is a
        # sub-flow of run i - 1; the newest 2 % are unfinished, then 10 % failed, 3 % revoked
        cursor.execute(
            f"""INSERT INTO {FLOWRUN} (id, flow_name, revision_id, parent_run_id, root_run_id, parent_node_id,
                    node_args, state, state_version, status, retried_count, migration_version, error,
                    created_at, started_at, finished_at, updated_at, next_wakeup_at)
                SELECT 'run-' || i, (%s::text[])[1 + i %% %s], %s,
                    CASE WHEN i %% 3 = 2 THEN 'run-' || (i - 1) END, CASE WHEN i %% 3 = 2 THEN 'run-' || (i - 1) END,
                    NULL, jsonb_build_object('package', 'pkg-' || i, 'version', (i %% 17) || '.0'),
                    '{{}}'::jsonb, 3, s.status, 0, 0,
                    CASE WHEN s.status = 'failed' THEN 'flow failed (node failed): [''Task3'']' ELSE '' END,
                    now() - make_interval(secs => i * 864000.0 / %s), now() - make_interval(secs => i * 864000.0 / %s),
                    CASE WHEN s.status IN ('running', 'pending') THEN NULL
                         ELSE now() - make_interval(secs => i * 864000.0 / %s) + make_interval(secs => 1 + i %% 40) END,
                    now(), CASE WHEN s.status IN ('running', 'pending') THEN now() + interval '30 seconds' END
                FROM generate_series(1, %s) AS i,
                LATERAL (SELECT CASE WHEN i <= %s / 50 THEN 'running'
                                     WHEN i %% 10 = 3 THEN 'failed'
                                     WHEN i %% 33 = 5 THEN 'revoked'
                                     ELSE 'succeeded' END AS status) AS s""",
            [flows, len(flows), revision.pk, runs, runs, runs, runs, runs],
        )
        cursor.execute(
            f"""INSERT INTO {NODERUN} (id, flow_run_id, name, kind, status, node_args, exception, traceback,
                    attempts, worker, is_fallback, is_nowait, created_at, started_at, finished_at, updated_at)
                SELECT 'node-' || r.id || '-' || n, r.id, 'Task' || n, 'task',
                    CASE WHEN r.status = 'failed' AND n = 3 THEN 'failed'
                         WHEN r.status = 'running' AND n >= 5 THEN 'sent'
                         WHEN r.status = 'revoked' THEN 'revoked' ELSE 'succeeded' END,
                    r.node_args,
                    CASE WHEN r.status = 'failed' AND n = 3
                         THEN 'ValueError: no such package ' || (r.node_args ->> 'package') || E'\\nTraceback text'
                         ELSE '' END,
                    '', 1, 'bench@host', false, false, r.created_at, r.started_at, r.finished_at, now()
                FROM {FLOWRUN} AS r, generate_series(0, %s - 1) AS n""",
            [nodes_per_run],
        )
        cursor.execute(f"ANALYZE {FLOWRUN}")
        cursor.execute(f"ANALYZE {NODERUN}")
    print(f"built {FlowRun.objects.count():,} runs and {NodeRun.objects.count():,} node runs "
          f"in {time.perf_counter() - started:.1f} s")


def viewer() -> Client:
    user, _ = User.objects.get_or_create(username=USERNAME, defaults={"is_staff": True})
    user.user_permissions.set([Permission.objects.get(codename="view_flowrun")])
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def measure(client: Client, url: str, repeat: int) -> tuple[float, int, int]:
    """(median seconds, queries, bytes) of GET ``url``."""
    response = client.get(url)  # warm-up: the revision's parsed configuration, the session
    assert response.status_code == 200, (url, response.status_code)
    queries: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries.append(sql)
        return execute(sql, params, many, context)

    # (the test utilities' query capture is emptied by each request's start signal)
    with connection.execute_wrapper(count):
        response = client.get(url)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(queries), len(response.content)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--nodes-per-run", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="use the data already there when the counts match")
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        raise SystemExit("this benchmark needs PostgreSQL (set DATABASE_URL, or run bench/admin_pages.sh)")
    call_command("migrate", verbosity=0)
    if not (args.keep and FlowRun.objects.count() == args.runs):
        build(args.runs, args.nodes_per_run)
    flow = FlowRun.objects.order_by("-created_at").values_list("flow_name", flat=True).first()
    client = viewer()
    admin = "/admin/selinon_django"
    two_days_ago = (timezone.now() - timedelta(days=2)).date().isoformat()
    pages: list[tuple[str, str]] = [
        ("runs list (top-level, first page)", f"{admin}/flowrun/"),
        ("runs list, page 20", f"{admin}/flowrun/?p=20"),
        ("runs list, all kinds", f"{admin}/flowrun/?kind=all"),
        ("filtered: one flow, failed", f"{admin}/flowrun/?flow={flow}&status__exact=failed"),
        ("filtered: sub-flows started in 2 days", f"{admin}/flowrun/?started_from={two_days_ago}&kind=sub"),
        ("search: a run id prefix", f"{admin}/flowrun/?q=run-4242"),
        ("dashboard (day)", f"{admin}/rundashboard/"),
        ("dashboard (week)", f"{admin}/rundashboard/?window=week"),
        ("dashboard live update (hour)", f"{admin}/rundashboard/live/?window=hour"),
        ("grid of one flow (30 runs)", f"{admin}/flowrun/grid/?flow={flow}"),
    ]
    print(f"{'page':42} {'median':>10} {'queries':>8} {'bytes':>9}")
    results: list[dict[str, Any]] = []
    for name, url in pages:
        seconds, queries, size = measure(client, url, args.repeat)
        results.append({"page": name, "seconds": seconds})
        print(f"{name:42} {seconds * 1000:8.1f} ms {queries:8d} {size:9,d}")
    slowest = max(results, key=lambda row: row["seconds"])
    print(f"slowest: {slowest['page']} at {slowest['seconds'] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
