"""Batches bigger than one PostgreSQL statement can carry (65,535 parameters with server-side
binding): they go as several statements of the caller's transaction, and every key asked for
comes back."""
from __future__ import annotations

import pytest
from django.db import connection, transaction

from selinon_django.models import FlowRun, NodeRun, OutboxMessage, TraceEventRecord
from selinon_django.models.runs import FlowRunStatus
from selinon_django.runtime import writes
from selinon_django.runtime.store import GuardFailed
from selinon_django.runtime.store import sql as store_sql
from selinon_django.runtime.unit_of_work import TRACE_COLUMNS

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="other databases write at once"),
]


@pytest.fixture
def run(db: None) -> FlowRun:
    from selinon_django.config import SourceFile, load_config_from_sources
    from selinon_django.revisions import load_revision

    sources = [SourceFile("nodes.yaml", "nodes", "tasks:\n  - {name: A, import: x.y, classname: A}\nflows: [f]\n"),
               SourceFile("flows.yaml", "flows", "flow-definitions:\n  - name: f\n    edges:\n"
                                                  "      - {from: [], to: [A]}\n")]
    revision = load_revision(load_config_from_sources(sources))[0]
    return FlowRun.objects.create(id="big", flow_name="f", revision=revision, status=FlowRunStatus.RUNNING)


def test_groups_keep_each_statement_under_the_limit() -> None:
    statements = [("a", (1,) * 40_000), ("b", (1,) * 30_000), ("c", (1,) * 20_000), ("d", ())]
    groups = store_sql.statement_groups(statements)
    assert [[sql for sql, _ in group] for group in groups] == [["a"], ["b", "c", "d"]]
    assert all(sum(len(p) for _, p in group) <= store_sql.MAX_PARAMS for group in groups)


def test_a_batch_of_thousands_of_rows_and_returned_keys(run: FlowRun) -> None:
    nodes = [NodeRun(id=f"n{i}", flow_run_id=run.pk, name="A") for i in range(4000)]
    messages = [OutboxMessage(task_name="t", kwargs={"i": i}, options={}) for i in range(9000)]
    batch = writes.Batch()
    with transaction.atomic():
        batch.insert(NodeRun, nodes)
        batch.update_where(FlowRun, {"error": "written"}, "id = %s", ("big",), lambda: FlowRun.objects.none())
        ids = batch.execute(returning=(OutboxMessage, messages))
    assert NodeRun.objects.filter(flow_run_id=run.pk).count() == 4000
    assert FlowRun.objects.get(pk=run.pk).error == "written"
    assert len(ids) == 9000 and set(ids) == set(OutboxMessage.objects.values_list("pk", flat=True))


@pytest.mark.django_db(transaction=True)  # a guarded batch is sent in autocommit, as the optimistic hop does
def test_a_guarded_batch_of_thousands_of_rows_is_one_statement(run: FlowRun) -> None:
    """Rows go as one array per column: thousands of them fit one guarded statement, which
    writes them all or (its guard missing) none."""
    from django.test.utils import CaptureQueriesContext

    batch = writes.Batch()
    batch.insert(NodeRun, [NodeRun(id=f"n{i}", flow_run_id=run.pk, name="A") for i in range(4000)])
    batch.update_where(FlowRun, {"state_version": 1}, "id = %s AND state_version = %s", ("big", 0),
                       lambda: FlowRun.objects.none(), guard=True)
    with CaptureQueriesContext(connection) as queries:
        batch.execute()
    assert len(queries.captured_queries) == 1
    assert NodeRun.objects.count() == 4000 and FlowRun.objects.get(pk=run.pk).state_version == 1
    again = writes.Batch()
    again.insert(NodeRun, [NodeRun(id=f"m{i}", flow_run_id=run.pk, name="A") for i in range(4000)])
    again.update_where(FlowRun, {"state_version": 2}, "id = %s AND state_version = %s", ("big", 0),
                       lambda: FlowRun.objects.none(), guard=True)  # another step got there first
    with pytest.raises(GuardFailed):
        again.execute()
    assert NodeRun.objects.count() == 4000 and FlowRun.objects.get(pk=run.pk).state_version == 1


def test_a_guarded_batch_too_big_for_one_statement_is_refused_whole(
    run: FlowRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_sql, "MAX_PARAMS", 3)  # far fewer parameters than PostgreSQL takes
    batch = writes.Batch()
    batch.update_where(NodeRun, {"status": "failed", "worker": "w"}, "flow_run_id = %s", ("big",),
                       lambda: NodeRun.objects.none())
    batch.update_where(FlowRun, {"state_version": 1}, "id = %s", ("big",), lambda: FlowRun.objects.none(),
                       guard=True)
    with pytest.raises(GuardFailed):
        batch.execute()
    assert FlowRun.objects.get(pk=run.pk).state_version == 0


def test_thousands_of_node_runs_are_copied_inside_a_transaction(run: FlowRun) -> None:
    count = store_sql.COPY_ROWS + 10
    nodes = [NodeRun(id=f"c{i}", flow_run_id=run.pk, name="A", node_args={"i": i}, parent={"X": ["p"]})
             for i in range(count)]
    batch = writes.Batch()
    with transaction.atomic():
        batch.insert(NodeRun, nodes)
        assert not batch.statements  # written by COPY at once, not joined to the batch
    stored = NodeRun.objects.get(pk="c7")
    assert (stored.node_args, stored.parent, stored.status, stored.attempts) == ({"i": 7}, {"X": ["p"]}, "pending", 0)
    assert stored.created_at is not None and NodeRun.objects.filter(flow_run_id=run.pk).count() == count


def test_rows_come_back_as_they_were(run: FlowRun) -> None:
    """Every column type of a node run survives the trip through ``jsonb_to_recordset`` (JSON,
    NULLs, flags, numbers, times), and two batches of different sizes share one statement text."""
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    now = timezone.now()
    texts = []
    for count in (2, 3):
        nodes = [NodeRun(id=f"r{count}-{i}", flow_run_id=run.pk, name="A", node_args={"i": i, "s": ["x", None]},
                         parent=None if i else {"P": ["p1"]}, is_fallback=bool(i), countdown=1.5 * i,
                         attempts=i, sent_at=now if i else None)
                 for i in range(count)]
        batch = writes.Batch()
        batch.insert(NodeRun, nodes)
        with CaptureQueriesContext(connection) as queries:
            batch.execute()
        texts.append(queries.captured_queries[0]["sql"].split(" SELECT ")[0])
    assert texts[0] == texts[1]
    first, second = NodeRun.objects.get(pk="r3-0"), NodeRun.objects.get(pk="r3-1")
    assert (first.node_args, first.parent, first.is_fallback, first.countdown, first.sent_at) == (
        {"i": 0, "s": ["x", None]}, {"P": ["p1"]}, False, 0.0, None)
    assert (second.parent, second.is_fallback, second.countdown, second.attempts, second.sent_at) == (
        None, True, 1.5, 1, now)


def test_rows_go_as_one_parameter_and_keep_every_value(run: FlowRun) -> None:
    """The rows of an insert go as one JSON parameter (psycopg's dumping of an array per column,
    element by element, had cost more than the statement): texts with quotes, backslashes and
    non-ASCII letters, JSON values that are strings, lists or null, and SQL NULLs survive."""
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    odd = 'it\'s "quoted" \\ back\\slash, ünïcode, ✓, tab\tand newline\n'
    now = timezone.now()
    nodes = [
        NodeRun(id="j1", flow_run_id=run.pk, name=odd, node_args=odd, result=[1, None, {"k": odd}], parent=None,
                exception=odd, started_at=now),
        NodeRun(id="j2", flow_run_id=run.pk, name="B", node_args=None, result={"": ""}, parent={"A": ["j1"]}),
    ]
    batch = writes.Batch()
    batch.insert(NodeRun, nodes)
    batch.insert_rows(TraceEventRecord, TRACE_COLUMNS, [(run.pk, "j1", "TASK_START", {"note": odd}, now)])
    with CaptureQueriesContext(connection) as queries:
        batch.execute()
    [statement] = queries.captured_queries
    assert statement["sql"].count("jsonb_to_recordset") == 2
    first, second = NodeRun.objects.get(pk="j1"), NodeRun.objects.get(pk="j2")
    assert (first.name, first.node_args, first.result, first.exception, first.started_at) == (
        odd, odd, [1, None, {"k": odd}], odd, now)
    assert (second.node_args, second.result, second.parent, second.started_at) == (None, {"": ""}, {"A": ["j1"]}, None)
    event = TraceEventRecord.objects.get(node_run_id="j1")
    assert (event.details, event.created_at) == ({"note": odd}, now)
