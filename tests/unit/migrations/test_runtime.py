"""The runtime side: pinned and migrated runs, chains with mixed strategies, skew, broken chains."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings

from selinon_django.engine.actions import FailFlow, Reschedule
from selinon_django.engine.migration_plan import generate_migration
from selinon_django.engine.migrations import TaintedFlowStrategy
from selinon_django.management.commands.selinon_migrate import Side, store_migration
from selinon_django.models import ConfigRevision, FlowRun, FlowRunStatus, OutboxMessage, TraceEventRecord
from selinon_django.revisions import load_revision
from selinon_django.runtime import configs, migrating, tracing
from selinon_django.runtime.unit_of_work import UnitOfWork
from selinon_django.trace.tracer import add_process_backend, remove_process_backend
from tests.unit.migrations.helpers import BOTH, ONLY_TASK2, ONLY_TASK2_CONDITION, ONLY_TASK3, config

pytestmark = pytest.mark.django_db

MIGRATE = override_settings(SELINON_DJANGO={"MIGRATION_POLICY": {"flow1": "migrate"}})

#: Task1 finished, the edge to Task2 fired, Task2 running (a run of ONLY_TASK2 or BOTH half-way)
HALF_WAY = {"active_nodes": [{"name": "Task2", "id": "t2"}], "finished_nodes": {"Task1": ["t1"]},
            "failed_nodes": {}, "waiting_edges": [1], "triggered_edges": [0, 1]}
#: Task1 running, nothing else happened yet
EARLY = {"active_nodes": [{"name": "Task1", "id": "t1"}], "finished_nodes": {}, "failed_nodes": {},
         "waiting_edges": [1], "triggered_edges": [0]}


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    # trace rows as on a worker, without leaving the backend installed for other test modules
    installed_before = tracing._installed
    add_process_backend(tracing.database_backend)
    migrating.forget_known_migrations()
    configs._cache.clear()  # revision ids come back in each test's database
    yield
    migrating.forget_known_migrations()
    if not installed_before:
        remove_process_backend(tracing.database_backend)


def revision(flows: str) -> ConfigRevision:
    return load_revision(config(flows))[0]


def migration(old: ConfigRevision, new: ConfigRevision, strategy: str = "IGNORE") -> int:
    generated = generate_migration(old.system_config(), new.system_config(), strategy)
    assert generated is not None
    old_side, new_side = Side(old.system_config(), "old", old), Side(new.system_config(), "new", new)
    version, _ = store_migration(generated, old_side, new_side, migration_dir=None)
    return version


def run_on(rev: ConfigRevision, state: dict[str, Any], *, version: int = 0, run_id: str = "r1") -> FlowRun:
    return FlowRun.objects.create(id=run_id, flow_name="flow1", revision=rev, state=state,
                                  status=FlowRunStatus.RUNNING, migration_version=version, state_version=3)


def step(run_id: str = "r1") -> tuple[Any, FlowRun]:
    with transaction.atomic():
        run = FlowRun.objects.locked().get(pk=run_id)
        unit = UnitOfWork(run_id)
        result = migrating.before_step(run, unit)
        unit.commit()
    return result, FlowRun.objects.get(pk=run_id)


def events(run_id: str = "r1") -> list[str]:
    return list(TraceEventRecord.objects.filter(flow_run_id=run_id).order_by("pk").values_list("event", flat=True))


def test_a_run_is_pinned_to_its_revision_by_default() -> None:
    old = revision(ONLY_TASK2)
    migration(old, revision(BOTH))
    run_on(old, HALF_WAY)
    result, run = step()
    assert result is None
    assert (run.revision_id, run.migration_version, run.state) == (old.pk, 0, HALF_WAY)
    assert events() == []


@MIGRATE
def test_docs_tainting_nodes_under_ignore_move_the_run_and_trace_it() -> None:
    old = revision(ONLY_TASK2)
    new = revision(BOTH)
    migration(old, new)
    run_on(old, HALF_WAY)
    result, run = step()
    assert result is None  # the step goes on, on the new graph
    assert (run.revision_id, run.migration_version, run.status) == (new.pk, 1, FlowRunStatus.RUNNING)
    assert run.state["waiting_edges"] == [1] and run.state["triggered_edges"] == [0, 1]
    assert events() == ["MIGRATION", "MIGRATION_TAINTED_FLOW"]
    details = TraceEventRecord.objects.get(event="MIGRATION_TAINTED_FLOW").details
    assert details["tainted_flow_strategy"] == "IGNORE" and details["tainting_nodes"] == {"1:2": ["Task1"]}
    moved = TraceEventRecord.objects.get(event="MIGRATION").details
    assert (moved["migration_version"], moved["latest_migration_version"]) == (0, 1)
    assert (moved["from_revision"], moved["to_revision"]) == (old.number, new.number)


@MIGRATE
def test_untainted_run_gets_the_new_edge_to_wait_on() -> None:
    old = revision(ONLY_TASK2)
    new = revision(BOTH)
    migration(old, new, "FAIL")
    run_on(old, EARLY)
    result, run = step()
    assert result is None and run.revision_id == new.pk and run.status == FlowRunStatus.RUNNING
    assert run.state["waiting_edges"] == [1, 2]  # Task3 will start when Task1 finishes
    assert events() == ["MIGRATION"]


@MIGRATE
def test_chain_with_mixed_strategies_follows_the_strongest_retry() -> None:
    first, second, third = revision(ONLY_TASK2), revision(BOTH), revision(ONLY_TASK3)
    migration(first, second, "IGNORE")
    migration(second, third, "RETRY")
    run_on(first, HALF_WAY)
    result, run = step()
    assert result is None  # the step that follows is a first step on the newest graph
    assert (run.revision_id, run.migration_version, run.status) == (third.pk, 2, FlowRunStatus.RETRYING)
    assert run.state == {"active_nodes": [], "finished_nodes": {}, "failed_nodes": {}, "waiting_edges": [],
                         "triggered_edges": []}
    assert run.retried_count == 0
    details = TraceEventRecord.objects.get(event="MIGRATION").details
    assert [s["migration_version"] for s in details["steps"]] == [1, 2]
    assert details["tainted_flow_strategy"] == "RETRY"


@MIGRATE
def test_chain_with_a_fail_migration_fails_the_tainted_run_keeping_its_state() -> None:
    first, second, third = revision(ONLY_TASK2), revision(BOTH), revision(ONLY_TASK3)
    migration(first, second, "FAIL")
    migration(second, third, "IGNORE")
    run_on(first, HALF_WAY)
    result, run = step()
    assert isinstance(result.outcome, FailFlow) and result.outcome.reason == "migration"
    assert run.status == FlowRunStatus.FAILED and run.finished_at is not None and run.state_version == 4
    assert run.state["active_nodes"] == HALF_WAY["active_nodes"]  # the real state, Task2 keeps running
    assert run.result is not None and run.result["reason"] == "migration" and run.migration_version == 2


@MIGRATE
def test_strategy_of_a_migration_that_does_not_taint_alone_still_counts_in_the_chain() -> None:
    first, second, third = revision(ONLY_TASK2), revision(BOTH), revision(ONLY_TASK3)
    migration(first, second, "FAIL")  # adds Task1 -> Task3: taints a run whose Task1 finished
    migration(second, third, "IGNORE")
    run_on(first, EARLY)  # Task1 still running: nothing taints
    result, run = step()
    assert result is None and run.status == FlowRunStatus.RUNNING and run.revision_id == third.pk
    assert run.state["waiting_edges"] == [1]  # ONLY_TASK3's edge 1 is Task1 -> Task3


def test_message_newer_than_the_worker_knows_is_put_back_without_a_retry() -> None:
    old = revision(ONLY_TASK2)
    migration(old, revision(BOTH))
    run_on(old, HALF_WAY, version=5)
    result, run = step()
    assert isinstance(result.outcome, Reschedule) and result.outcome.countdown == migrating.SKEW_COUNTDOWN
    assert (run.state, run.state_version, run.retried_count, run.revision_id) == (HALF_WAY, 3, 0, old.pk)
    assert run.next_wakeup_at is not None
    assert events() == ["MIGRATION_SKEW"]
    message = OutboxMessage.objects.get()
    assert message.kwargs["run_id"] == "r1" and message.options["countdown"] == migrating.SKEW_COUNTDOWN
    assert TraceEventRecord.objects.get().details["latest_migration_version"] == 1


def test_worker_reads_migrations_stored_after_it_started() -> None:
    old = revision(ONLY_TASK2)
    assert migrating.latest_known_version() == 0
    migration(old, revision(BOTH))
    run_on(old, HALF_WAY, version=1)
    result, _ = step()
    assert result is None and events() == []


@MIGRATE
def test_graph_changed_without_a_migration_stays_and_says_why() -> None:
    first = revision(ONLY_TASK2)
    revision(BOTH)  # loaded without generating a migration
    second, third = ConfigRevision.objects.current(), revision(ONLY_TASK3)
    assert second is not None
    migration(second, third)
    run_on(first, HALF_WAY)
    result, run = step()
    assert result is None and run.revision_id == first.pk and run.migration_version == 0
    assert events() == ["MIGRATION_ERROR"]
    assert "another graph" in TraceEventRecord.objects.get().details["what"]


@MIGRATE
def test_a_revision_that_changes_no_edge_needs_no_migration() -> None:
    old = revision(ONLY_TASK2)
    new = revision(ONLY_TASK2_CONDITION)
    run_on(old, HALF_WAY)
    result, run = step()
    assert result is None and run.revision_id == new.pk and run.migration_version == 0 and run.state == HALF_WAY
    assert events() == ["MIGRATION"]


@MIGRATE
def test_a_run_started_on_the_newest_revision_is_not_migrated_again() -> None:
    old = revision(ONLY_TASK2)
    new = revision(BOTH)
    migration(old, new)
    run_on(new, HALF_WAY)  # migration_version 0 although migration 1 led to its revision
    result, run = step()
    assert result is None and run.revision_id == new.pk and run.state == HALF_WAY and events() == []


@MIGRATE
def test_migration_generated_before_the_revision_was_loaded_is_found_by_hash() -> None:
    old = revision(ONLY_TASK2)
    generated = generate_migration(old.system_config(), config(BOTH), TaintedFlowStrategy.IGNORE)
    assert generated is not None
    store_migration(generated, Side(old.system_config(), "old", old), Side(config(BOTH), "files"), migration_dir=None)
    run_on(old, HALF_WAY)
    new = revision(BOTH)
    result, run = step()
    assert result is None and run.revision_id == new.pk and run.migration_version == 1
