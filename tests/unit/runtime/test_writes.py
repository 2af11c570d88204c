"""Batches bigger than one PostgreSQL statement can carry (65,535 parameters with server-side
binding): they go as several statements of the caller's transaction, and every key asked for
comes back."""
from __future__ import annotations

import pytest
from django.db import connection, transaction

from selinon_django.models import FlowRun, NodeRun, OutboxMessage
from selinon_django.models.runs import FlowRunStatus
from selinon_django.runtime import writes

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
    groups = writes._groups(statements)
    assert [[sql for sql, _ in group] for group in groups] == [["a"], ["b", "c", "d"]]
    assert all(sum(len(p) for _, p in group) <= writes.MAX_PARAMS for group in groups)


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
def test_a_guarded_batch_too_big_for_one_statement_is_refused_whole(run: FlowRun) -> None:
    batch = writes.Batch()
    batch.insert(NodeRun, [NodeRun(id=f"n{i}", flow_run_id=run.pk, name="A") for i in range(4000)])
    batch.update_where(FlowRun, {"state_version": 1}, "id = %s", ("big",), lambda: FlowRun.objects.none(),
                       guard=True)
    with pytest.raises(writes.GuardFailed):
        batch.execute()
    assert not NodeRun.objects.exists() and FlowRun.objects.get(pk=run.pk).state_version == 0


def test_thousands_of_node_runs_are_copied_inside_a_transaction(run: FlowRun) -> None:
    count = writes.COPY_ROWS + 10
    nodes = [NodeRun(id=f"c{i}", flow_run_id=run.pk, name="A", node_args={"i": i}, parent={"X": ["p"]})
             for i in range(count)]
    batch = writes.Batch()
    with transaction.atomic():
        batch.insert(NodeRun, nodes)
        assert not batch.statements  # written by COPY at once, not joined to the batch
    stored = NodeRun.objects.get(pk="c7")
    assert (stored.node_args, stored.parent, stored.status, stored.attempts) == ({"i": 7}, {"X": ["p"]}, "pending", 0)
    assert stored.created_at is not None and NodeRun.objects.filter(flow_run_id=run.pk).count() == count
