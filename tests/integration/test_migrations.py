"""Migrations on real workers: a run migrated half-way finishes on the new graph, a pinned one on the old.

Both flows wait in their first task (a gate file the test creates) while the test loads a new
revision and generates the migration; the workers of this module run with ``mig_flow`` under
the "migrate" policy and ``pin_flow`` under the default "pin".
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from tests.integration.helpers import node_counts, wait_finished
from tests.integration.workers import WorkerPool, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

FLOWS = Path(__file__).resolve().parent / "migration_flows"
QUEUES = ("migration_dispatcher", "migration_tasks")


@pytest.fixture(scope="module")
def migration_workers(celery_app: Any, worker_env: dict[str, str], worker_logs: Path) -> Iterator[WorkerPool]:
    pool = WorkerPool(celery_app, {**worker_env, "DJANGO_SETTINGS_MODULE": "tests.integration.migration_settings"},
                      worker_logs)
    try:
        pool.start(QUEUES, concurrency=3)
        yield pool
    finally:
        pool.stop_all()


def load(flows: str) -> Any:
    from selinon_django.config import load_config
    from selinon_django.revisions import load_revision

    return load_revision(load_config([FLOWS / "nodes.yaml"], [FLOWS / flows]))[0]


def gate_started(run_id: str) -> bool:
    from selinon_django.models import NodeRun

    return NodeRun.objects.filter(flow_run_id=run_id, name="Gate", status="started").exists()


def test_run_migrated_half_way_finishes_on_the_new_graph_and_pinned_run_on_the_old(
    migration_workers: WorkerPool, transactional_db: None, tmp_path: Path
) -> None:
    from selinon_django.models import FlowMigrationRecord, FlowRun, TraceEventRecord
    from selinon_django.runtime.api import run_flow

    old = load("v1.yaml")
    migrated_id = run_flow("mig_flow", {"gate": str(tmp_path / "migrated")})
    pinned_id = run_flow("pin_flow", {"gate": str(tmp_path / "pinned")})
    wait_until(lambda: gate_started(migrated_id) and gate_started(pinned_id), timeout=30,
               message=lambda: "both gates to start\n" + migration_workers.logs())

    new = load("v2.yaml")
    call_command("selinon_migrate", "--migration-dir", str(tmp_path / "migrations"))
    assert FlowMigrationRecord.objects.get().version == 1
    (tmp_path / "migrated").touch()
    (tmp_path / "pinned").touch()

    migrated = wait_finished(migrated_id, workers=migration_workers)
    pinned = wait_finished(pinned_id, workers=migration_workers)

    assert migrated.status == "succeeded", migrated.error
    assert (migrated.revision_id, migrated.migration_version) == (new.pk, 1)
    # Extra's edge is new with Gate as source: Gate was still running, so it fires on the new graph too.
    assert node_counts(migrated_id) == Counter(
        {("Gate", "succeeded"): 1, ("After", "succeeded"): 1, ("Extra", "succeeded"): 1}
    )
    assert set(migrated.state["finished_nodes"]) == {"Gate", "After", "Extra"}
    events = list(TraceEventRecord.objects.filter(flow_run_id=migrated_id).values_list("event", flat=True))
    assert events.count("MIGRATION") == 1 and "MIGRATION_TAINTED_FLOW" not in events

    assert pinned.status == "succeeded", pinned.error
    assert (pinned.revision_id, pinned.migration_version) == (old.pk, 0)
    assert node_counts(pinned_id) == Counter({("Gate", "succeeded"): 1, ("Before", "succeeded"): 1})
    assert "MIGRATION" not in TraceEventRecord.objects.filter(flow_run_id=pinned_id).values_list("event", flat=True)
    assert FlowRun.objects.filter(pk__in=[migrated_id, pinned_id]).count() == 2
