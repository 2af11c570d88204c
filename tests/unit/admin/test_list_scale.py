"""The runs list on a big table: no query of the changelist reads every node run.

The per-run node counts are the risk: counted over the whole (filtered) list they join every node
run of the table, and the paginator's count joins them again. The plans are read (EXPLAIN) from the
queries the changelist really sends, on tables written in bulk and analysed so the planner sees a
table where a scan of node runs would be the wrong choice. Behaviour, not timing: a plan with no
sequential scan of the node-run table, and the right counts on the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from selinon_django.admin.runs import FlowRunAdmin
from selinon_django.models import ConfigRevision, FlowRun, NodeRun

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans are read on PostgreSQL"),
    pytest.mark.django_db,
]

RUNS_URL = "/admin/selinon_django/flowrun/"
RUNS = 5_000
#: run i has i % 4 + 1 node runs; those with n <= i % 3 failed (so failures vary per run too)
FLOWRUN = FlowRun._meta.db_table
NODERUN = NodeRun._meta.db_table
#: ``?o=`` numbers of the count columns (the actions' checkbox column is number 0)
NODES_COLUMN = FlowRunAdmin.list_display.index("node_total") + 1
FAILED_COLUMN = FlowRunAdmin.list_display.index("node_failed") + 1
_NODE_SEQ_SCAN = re.compile(rf"Seq Scan on {NODERUN}\b")
_READS_NODE_RUNS = re.compile(rf'"{NODERUN}"')


def nodes_of(i: int) -> tuple[int, int]:
    """(total, failed) node runs of run i as the fixture writes them."""
    total = i % 4 + 1
    return total, min(i % 3, total)


@pytest.fixture
def populated(revision: ConfigRevision) -> Iterator[None]:
    """RUNS runs of two flows (``rare`` seldom) with 1-4 node runs each, written in SQL and analysed."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {FLOWRUN} (id, flow_name, revision_id, parent_run_id, root_run_id, parent_node_id,
                    state, state_version, status, retried_count, migration_version, error, created_at,
                    started_at, finished_at, updated_at, next_wakeup_at)
                SELECT 'run-' || i, CASE WHEN i %% 500 = 7 THEN 'rare' ELSE 'demo_main' END, %s, NULL, NULL,
                    NULL, '{{}}'::jsonb, 1, CASE WHEN i %% 3 = 0 THEN 'succeeded' ELSE 'failed' END, 0, 0, '',
                    now() - make_interval(secs => %s - i), now() - make_interval(secs => %s - i),
                    now() - make_interval(secs => %s - i) + interval '2 seconds', now(), NULL
                FROM generate_series(1, %s) AS i""",
            [revision.pk, RUNS, RUNS, RUNS, RUNS],
        )
        cursor.execute(
            f"""INSERT INTO {NODERUN} (id, flow_run_id, name, kind, status, exception, traceback, attempts, worker,
                    is_fallback, is_nowait, created_at, updated_at)
                SELECT 'node-' || i || '-' || n, 'run-' || i, 'Task' || n, 'task',
                    CASE WHEN n <= i %% 3 THEN 'failed' ELSE 'succeeded' END, '', '', 1, '', false, false,
                    now() - make_interval(secs => %s - i), now()
                FROM generate_series(1, %s) AS i, generate_series(1, 4) AS n
                WHERE n <= i %% 4 + 1""",
            [RUNS, RUNS],
        )
        cursor.execute(f"ANALYZE {FLOWRUN}")
        cursor.execute(f"ANALYZE {NODERUN}")
    yield


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def changelist(client: Client, query: str = "") -> tuple[list[FlowRun], list[tuple[str, str]]]:
    """The runs on the page, and (sql, plan) of every captured SELECT that reads the node-run table."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(RUNS_URL + query)
    assert response.status_code == 200
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    return list(response.context["cl"].result_list), [
        (sql, _plan(sql)) for sql in selects if _READS_NODE_RUNS.search(sql)
    ]


def assert_counts(runs: list[FlowRun]) -> None:
    assert runs
    for run in runs:
        i = int(run.pk.removeprefix("run-"))
        assert (run.node_total, run.node_failed) == nodes_of(i), run.pk  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "query",
    ["", "?p=3", "?flow=rare", "?status__exact=succeeded", "?kind=top", f"?o=-{NODES_COLUMN}"],
    ids=["first-page", "third-page", "flow-filter", "status-filter", "kind-filter", "sorted-by-nodes"],
)
def test_changelist_never_scans_node_runs(populated: None, superuser_client: Client, query: str) -> None:
    runs, node_reads = changelist(superuser_client, query)
    assert len(runs) == (RUNS // 500 if query == "?flow=rare" else 50)
    assert_counts(runs)
    assert node_reads, "the node counts come from the node-run table"
    for sql, plan in node_reads:
        assert not _NODE_SEQ_SCAN.search(plan), f"{sql}\n{plan}"
        assert "selinon_noderun_flow_name" in plan, f"{sql}\n{plan}"


def test_paginator_count_does_not_join_node_runs(populated: None, superuser_client: Client) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = superuser_client.get(RUNS_URL + "?p=2")
    assert response.status_code == 200
    assert response.context["cl"].result_count == RUNS
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper() and FLOWRUN in q["sql"]]
    assert counts
    for sql in counts:
        assert NODERUN not in sql, sql


@pytest.mark.parametrize(
    ("url", "table", "rows"),
    [
        (RUNS_URL, FLOWRUN, RUNS),
        ("/admin/selinon_django/noderun/", NODERUN, sum(nodes_of(i)[0] for i in range(1, RUNS + 1))),
    ],
    ids=["runs", "node-runs"],
)
def test_a_big_unfiltered_list_takes_the_planners_estimate_instead_of_counting(
    populated: None, superuser_client: Client, monkeypatch: pytest.MonkeyPatch, url: str, table: str, rows: int
) -> None:
    """From ESTIMATE_FROM rows (lowered here to the fixture's size) an unfiltered list is not
    counted; a filtered one still is, exactly."""
    from selinon_django.admin import paging

    monkeypatch.setattr(paging, "ESTIMATE_FROM", 1_000)

    def counted(query: str) -> tuple[int, list[str]]:
        with CaptureQueriesContext(connection) as queries:
            response = superuser_client.get(url + query)
        assert response.status_code == 200
        counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper() and table in q["sql"]]
        return response.context["cl"].result_count, counts

    estimate, counts = counted("?p=2")
    assert counts == []
    assert abs(estimate - rows) <= rows // 100  # ANALYZE read every row of tables this small
    exact, counts = counted("?status__exact=succeeded")
    assert counts and exact == connection.cursor().execute(  # type: ignore[union-attr]
        f"SELECT count(*) FROM {table} WHERE status = 'succeeded'").fetchone()[0]


def test_a_table_below_the_threshold_is_counted(superuser_client: Client, revision: ConfigRevision) -> None:
    from selinon_django.admin.paging import estimated_rows

    assert estimated_rows(FlowRun.objects.filter(status="failed")) is None  # filtered: never estimated
    with CaptureQueriesContext(connection) as queries:
        response = superuser_client.get(RUNS_URL)
    assert response.status_code == 200 and response.context["cl"].result_count == 0
    assert any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)


@pytest.mark.parametrize(
    "order",
    [f"{NODES_COLUMN}", f"-{NODES_COLUMN}", f"{FAILED_COLUMN}", f"-{FAILED_COLUMN}"],
    ids=["nodes", "-nodes", "failed", "-failed"],
)
def test_sorting_by_node_counts_still_works(populated: None, superuser_client: Client, order: str) -> None:
    """Sorting by a count column is the one case that must count every run's nodes; it still
    works and shows the right counts (sorted) on the page."""
    runs, _ = changelist(superuser_client, f"?o={order}")
    assert_counts(runs)
    column = "node_total" if order.lstrip("-") == str(NODES_COLUMN) else "node_failed"
    values = [getattr(run, column) for run in runs]
    assert values == sorted(values, reverse=order.startswith("-"))


def test_flow_filter_offers_the_current_flows_and_the_selected_one(
    populated: None, revision: ConfigRevision, superuser_client: Client
) -> None:
    """``rare`` is in the run table but not in the configuration: offered only while selected."""
    current = set(revision.flows.values_list("name", flat=True))

    def offered(query: str) -> set[str]:
        with CaptureQueriesContext(connection) as queries:
            response = superuser_client.get(RUNS_URL + query)
        assert not [q for q in queries.captured_queries if "DISTINCT" in q["sql"].upper()]
        spec = next(spec for spec in response.context["cl"].filter_specs if spec.parameter_name == "flow")
        return {value for value, _ in spec.lookup_choices}

    assert offered("") == current
    assert offered("?flow=rare") == current | {"rare"}
