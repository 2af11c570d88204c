"""Run models: defaults, querysets, deletion rules, indexes, and migrations in step with models."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from selinon_django.models import (
    ConfigRevision,
    FlowRun,
    FlowRunStatus,
    NodeRun,
    NodeRunStatus,
    OutboxMessage,
    ThrottleSlot,
    TraceEventRecord,
    empty_state,
)
from selinon_django.revisions import load_revision
from tests.unit.commands.helpers import fixture_config

pytestmark = pytest.mark.django_db


@pytest.fixture
def revision() -> ConfigRevision:
    return load_revision(fixture_config())[0]


def test_flow_run_defaults(revision: ConfigRevision) -> None:
    run = FlowRun.objects.create(id="run-1", flow_name="main", revision=revision, node_args={"a": 1})
    run.refresh_from_db()
    assert run.state == empty_state()
    assert set(run.state) == {"active_nodes", "finished_nodes", "failed_nodes", "waiting_edges", "triggered_edges"}
    assert (run.status, run.state_version, run.retried_count, run.migration_version) == ("pending", 0, 0, 0)
    assert run.is_finished is False
    assert run.duration is None


def test_flow_run_querysets(revision: ConfigRevision) -> None:
    now = timezone.now()
    root = FlowRun.objects.create(
        id="root",
        flow_name="main",
        revision=revision,
        status=FlowRunStatus.RUNNING,
        next_wakeup_at=now - timedelta(seconds=1),
    )
    child = FlowRun.objects.create(
        id="child",
        flow_name="items",
        revision=revision,
        parent_run=root,
        root_run=root,
        status=FlowRunStatus.RETRYING,
        next_wakeup_at=now + timedelta(hours=1),
    )
    done = FlowRun.objects.create(
        id="done",
        flow_name="main",
        revision=revision,
        status=FlowRunStatus.SUCCEEDED,
        next_wakeup_at=now - timedelta(hours=1),
    )

    assert set(FlowRun.objects.unfinished()) == {root, child}
    assert set(FlowRun.objects.finished()) == {done}
    assert set(FlowRun.objects.for_flow("main")) == {root, done}
    assert set(FlowRun.objects.roots()) == {root, done}
    assert set(root.child_runs.all()) == {child}
    with transaction.atomic():
        assert list(FlowRun.objects.locked().filter(pk="root")) == [root]


def test_node_runs_and_deletion_rules(revision: ConfigRevision) -> None:
    root = FlowRun.objects.create(id="root", flow_name="main", revision=revision)
    child = FlowRun.objects.create(id="child", flow_name="items", revision=revision, parent_run=root, root_run=root)
    NodeRun.objects.create(id="t1", flow_run=root, name="Fetch", status=NodeRunStatus.SUCCEEDED)
    NodeRun.objects.create(id="child", flow_run=root, name="items", kind=NodeRun.Kind.FLOW)
    NodeRun.objects.create(id="t2", flow_run=child, name="Item", status=NodeRunStatus.STARTED)
    TraceEventRecord.objects.create(flow_run=root, node_run_id="t1", event="NODE_SUCCESSFUL", details={"x": 1})

    assert {n.id for n in NodeRun.objects.unfinished()} == {"child", "t2"}
    assert {n.id for n in NodeRun.objects.finished()} == {"t1"}
    assert [n.id for n in NodeRun.objects.for_flow_run(root).named("Fetch")] == ["t1"]

    with pytest.raises(ProtectedError):
        revision.delete()  # runs pin their revision
    root.delete()  # pruning a root takes its sub-flows, node runs and trace events with it
    assert (FlowRun.objects.count(), NodeRun.objects.count(), TraceEventRecord.objects.count()) == (0, 0, 0)


def test_outbox_and_throttle_slots() -> None:
    old = OutboxMessage.objects.create(
        task_name="selinon.dispatcher",
        args=[1],
        options={"task_id": "abc"},
        created_at=timezone.now() - timedelta(minutes=5),
    )
    fresh = OutboxMessage.objects.create(task_name="selinon.dispatcher")
    OutboxMessage.objects.create(task_name="selinon.task", published_at=timezone.now())

    assert set(OutboxMessage.objects.unpublished()) == {old, fresh}
    assert list(OutboxMessage.objects.stale(timedelta(minutes=1))) == [old]
    assert old.task_id == "abc"
    assert fresh.task_id is None

    ThrottleSlot.objects.create(kind="task", name="Fetch", last_reserved=1.5)
    ThrottleSlot.objects.create(kind="flow", name="Fetch")
    with pytest.raises(IntegrityError), transaction.atomic():
        ThrottleSlot.objects.create(kind="task", name="Fetch")


def test_partial_indexes_exist() -> None:
    with connection.cursor() as cursor:
        flowrun = connection.introspection.get_constraints(cursor, FlowRun._meta.db_table)
        outbox = connection.introspection.get_constraints(cursor, OutboxMessage._meta.db_table)
    assert flowrun["selinon_flowrun_wakeup"]["columns"] == ["next_wakeup_at"]
    assert outbox["selinon_outbox_unpublished"]["columns"] == ["created_at"]


def test_migrations_match_models() -> None:
    call_command("makemigrations", "selinon_django", "--check", "--dry-run", verbosity=0)
