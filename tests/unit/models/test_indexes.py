"""Indexes of the run tables on PostgreSQL: exactly the ones the queries need, and used by them.

Every flow-run and node-run update is a non-HOT update (it changes an indexed column), so each
index costs a new entry on every hop: an index that appears by accident (a new ``db_index``, a
foreign key's automatic index, a ``*_like`` twin) must fail here, and so must a query of the
sweeper or of the run page that stops finding an index. The plans are read from the queries the
code really sends (captured), on tables with enough rows for the planner to prefer an index.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from selinon_django.models import ConfigRevision, FlowRun, NodeRun, OutboxMessage, TaskDefinition, TraceEventRecord
from selinon_django.revisions import load_revision
from selinon_django.runtime.sweeper import sweep
from tests.unit.commands.helpers import fixture_config

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="index maintenance is measured on PostgreSQL"),
    pytest.mark.django_db,
]

#: table -> every index it should have after ``migrate`` (and why, see the models' Meta)
EXPECTED = {
    FlowRun._meta.db_table: {
        "selinon_django_flowrun_pkey",
        "selinon_flowrun_created",
        "selinon_flowrun_flow_created",
        "selinon_flowrun_finished",
        "selinon_flowrun_wakeup",
        "selinon_flowrun_parent",
        "selinon_flowrun_root",
        "selinon_flowrun_creator",
    },
    NodeRun._meta.db_table: {
        "selinon_django_noderun_pkey",
        "selinon_noderun_flow_name",
        "selinon_noderun_inflight",
    },
    OutboxMessage._meta.db_table: {
        "selinon_django_outboxmessage_pkey",
        "selinon_outbox_unpublished",
    },
    TraceEventRecord._meta.db_table: {
        "selinon_django_traceeventrecord_pkey",
        "selinon_trace_run_time",
    },
}
RUN_TABLES = (FlowRun._meta.db_table, NodeRun._meta.db_table, TraceEventRecord._meta.db_table)
_FROM_RUN_TABLE = re.compile(r'FROM "(?:{})"'.format("|".join(RUN_TABLES)))
_SEQ_SCAN = re.compile(r"Seq Scan on (?:{})\b".format("|".join(RUN_TABLES)))
RUNS = 20_000


def _indexes(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [table])
        return {row[0] for row in cursor.fetchall()}


@pytest.fixture
def revision() -> ConfigRevision:
    return load_revision(fixture_config())[0]


@pytest.fixture
def populated(revision: ConfigRevision) -> Iterator[FlowRun]:
    """RUNS finished runs (a third of them sub-flows, a few of a rare flow) with 3 nodes and 3 trace events each, plus
    one running run with a node in flight; returns the running run. The rows are written in SQL
    (fast) and analysed, so the planner sees a table where a scan would be the wrong choice."""
    flowrun, noderun, trace = RUN_TABLES
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {flowrun} (id, flow_name, revision_id, parent_run_id, root_run_id, parent_node_id,
                    state, state_version, status, retried_count, migration_version, error, created_at,
                    started_at, finished_at, updated_at, next_wakeup_at)
                SELECT 'run-' || i, CASE WHEN i %% 1000 = 7 THEN 'rare' ELSE 'flow' || (i %% 20) END, %s,
                    CASE WHEN i %% 3 = 0 AND i > 1 THEN 'run-' || (i - 1) END,
                    CASE WHEN i %% 3 = 0 AND i > 1 THEN 'run-' || (i - 1) END, NULL,
                    '{{}}'::jsonb, 1, CASE WHEN i %% 50 = 0 THEN 'failed' ELSE 'succeeded' END, 0, 0, '',
                    now() - make_interval(secs => %s - i), now() - make_interval(secs => %s - i),
                    now() - make_interval(secs => %s - i), now(), NULL
                FROM generate_series(1, %s) AS i""",
            [revision.pk, RUNS, RUNS, RUNS, RUNS],
        )
        cursor.execute(
            f"""INSERT INTO {noderun} (id, flow_run_id, name, kind, status, exception, traceback, attempts, worker,
                    is_fallback, is_nowait, created_at, updated_at)
                SELECT 'node-' || i || '-' || n, 'run-' || i, 'Task' || n, 'task', 'succeeded', '', '', 1, '',
                    false, false, now() - make_interval(secs => %s - i), now()
                FROM generate_series(1, %s) AS i, generate_series(1, 3) AS n""",
            [RUNS, RUNS],
        )
        cursor.execute(
            f"""INSERT INTO {trace} (flow_run_id, node_run_id, event, details, created_at)
                SELECT 'run-' || i, NULL, 'NODE_SUCCESSFUL', '{{}}'::jsonb, now() - make_interval(secs => %s - i)
                FROM generate_series(1, %s) AS i, generate_series(1, 3) AS n""",
            [RUNS, RUNS],
        )
    now = timezone.now()
    running = FlowRun.objects.create(
        id="running", flow_name="flow1", revision=revision, status=FlowRun.Status.RUNNING,
        next_wakeup_at=now + timedelta(hours=1),
    )
    NodeRun.objects.create(id="in-flight", flow_run=running, name="Task1", status=NodeRun.Status.STARTED,
                           sent_at=now, started_at=now)
    with connection.cursor() as cursor:
        for table in RUN_TABLES:
            cursor.execute(f"ANALYZE {table}")
    yield running


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def _plans_on_run_tables(queries: list[dict[str, str]]) -> list[tuple[str, str]]:
    """(sql, plan) of each captured read of a run table (writes are looked up by primary key)."""
    return [(q["sql"], _plan(q["sql"])) for q in queries
            if q["sql"].lstrip().upper().startswith("SELECT") and _FROM_RUN_TABLE.search(q["sql"])]


def _seq_scans(plan: str) -> list[str]:
    return [line.strip() for line in plan.splitlines() if _SEQ_SCAN.search(line)]


def test_exact_indexes_after_migrate() -> None:
    """No ``*_like`` twins, no single-column foreign-key indexes, nothing unplanned."""
    assert {table: _indexes(table) for table in EXPECTED} == EXPECTED


def test_partial_indexes_keep_finished_rows_out() -> None:
    """The hot path's updates skip the partial indexes: a succeeded node or a running top-level
    run has no entry in them (the reason they are partial)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY(%s)",
            [["selinon_noderun_inflight", "selinon_flowrun_finished", "selinon_flowrun_parent", "selinon_flowrun_root",
              "selinon_flowrun_creator"]],
        )
        definitions = dict(cursor.fetchall())
    assert "'sent'" in definitions["selinon_noderun_inflight"]
    assert "'succeeded'" not in definitions["selinon_noderun_inflight"]
    assert "'running'" not in definitions["selinon_flowrun_finished"]
    for name in ("selinon_flowrun_parent", "selinon_flowrun_root", "selinon_flowrun_creator"):
        assert "IS NOT NULL" in definitions[name]


def test_sweeper_queries_use_indexes(populated: FlowRun) -> None:
    # a task with a time limit, so the sweep also reads the started nodes that may have overrun it
    TaskDefinition.objects.create(revision=populated.revision, name="Limited", module="m", classname="C",
                                  options={"time_limit": 5})
    with CaptureQueriesContext(connection) as queries:
        report = sweep()
    assert (report.wakeups, report.tasks) == (0, 0)
    plans = _plans_on_run_tables(queries.captured_queries)
    assert len(plans) >= 3  # due runs, lost task messages, attempts killed by a time limit
    for sql, plan in plans:
        assert not _seq_scans(plan), f"{sql}\n{plan}"
    used = "\n".join(plan for _, plan in plans)
    assert "selinon_flowrun_wakeup" in used
    assert "selinon_noderun_inflight" in used


def test_run_page_queries_use_indexes(populated: FlowRun, admin_client: Client) -> None:
    """The run page (nodes, sub-flows, trace) of a run in the middle of the table."""
    run_id = f"run-{RUNS // 2}"
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(f"/admin/selinon_django/flowrun/{run_id}/change/")
    assert response.status_code == 200
    plans = _plans_on_run_tables(queries.captured_queries)
    assert plans
    for sql, plan in plans:
        assert not _seq_scans(plan), f"{sql}\n{plan}"


@pytest.mark.parametrize(
    ("queryset", "index"),
    [
        (lambda: FlowRun.objects.order_by("-created_at")[:50], "selinon_flowrun_created"),
        (lambda: FlowRun.objects.filter(status="failed").order_by("-created_at")[:50], "selinon_flowrun_finished"),
        (lambda: FlowRun.objects.filter(flow_name="rare").order_by("-created_at")[:50],
         "selinon_flowrun_flow_created"),
        (lambda: FlowRun.objects.filter(parent_run_id="run-299"), "selinon_flowrun_parent"),
        (lambda: FlowRun.objects.filter(root_run_id__in=["run-299", "run-300"]), "selinon_flowrun_root"),
        (lambda: NodeRun.objects.filter(flow_run_id="run-300").order_by("created_at", "pk"),
         "selinon_noderun_flow_name"),
        (lambda: TraceEventRecord.objects.filter(flow_run_id="run-300").order_by("created_at", "id"),
         "selinon_trace_run_time"),
    ],
    ids=["list", "list-failed", "list-flow", "children", "prune-trees", "run-nodes", "run-trace"],
)
def test_list_and_cascade_queries_use_their_index(populated: FlowRun, queryset: object, index: str) -> None:
    """The REST API's and the admin's list shapes (newest first, by status or flow) and the
    lookups the prune command and cascading deletes make. (A filter that matches many rows is
    served by the newest-first scan alone: only a rare flow or status needs its own index.)"""
    sql, params = queryset().query.sql_with_params()  # type: ignore[operator]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index in plan, plan
