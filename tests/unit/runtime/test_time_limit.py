"""A hard ``time_limit`` kill: Celery acknowledges the killed attempt's message, so only the
sweeper can notice the node stuck in ``started``; the envelope then takes the lost-worker path."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from selinon_django.config import SourceFile, load_config_from_sources
from selinon_django.models import ConfigRevision, FlowRun, NodeRun
from selinon_django.models.runs import FlowRunStatus, NodeRunStatus
from selinon_django.revisions import load_revision
from selinon_django.runtime import envelope, sweeper
from selinon_django.runtime.configs import forget_configs
from selinon_django.runtime.messages import NODE_TASK

NODES = """\
tasks:
  - {name: Slow, import: demo_project.tasks.never_imported, classname: Slow, time_limit: 2}
  - {name: Endless, import: demo_project.tasks.never_imported, classname: Endless}
flows: [main]
"""
FLOWS = """\
flow-definitions:
  - name: main
    edges:
      - {from: [], to: [Slow, Endless]}
"""


@pytest.fixture
def revision(db: None) -> ConfigRevision:
    forget_configs()  # another test's revision may have had the same id
    sources = [SourceFile("nodes.yaml", "nodes", NODES), SourceFile("flows.yaml", "flows", FLOWS)]
    return load_revision(load_config_from_sources(sources))[0]


def _started(run: FlowRun, name: str, *, attempts: int, ago: float) -> NodeRun:
    when = timezone.now() - timedelta(seconds=ago)
    node = NodeRun.objects.create(id=f"{name}-node", flow_run=run, name=name, status=NodeRunStatus.STARTED,
                                  attempts=attempts, started_at=when, sent_at=when)
    NodeRun.objects.filter(pk=node.pk).update(updated_at=when)
    return node


@pytest.fixture
def run(revision: ConfigRevision) -> FlowRun:
    return FlowRun.objects.create(id="run-1", flow_name="main", revision=revision, status=FlowRunStatus.RUNNING)


@pytest.fixture
def resent(enqueued: list[Any]) -> Callable[[], dict[str, dict]]:
    """The task messages the sweeper sent since the last call (by node id)."""
    def read() -> dict[str, dict]:
        found = {m.options["task_id"]: m.kwargs for m in enqueued if m.task_name == NODE_TASK}
        enqueued.clear()
        return found
    return read


def test_sweeper_resends_a_node_started_longer_than_its_time_limit(
    run: FlowRun, resent: Callable[[], dict[str, dict]]
) -> None:
    _started(run, "Slow", attempts=1, ago=60)
    _started(run, "Endless", attempts=1, ago=3600)  # no time limit: may legitimately run for hours
    report = sweeper.sweep()
    sent = resent()
    assert report.tasks == 1 and set(sent) == {"Slow-node"}
    # the killed attempt's message (counters left out when 0, as in a first start's message)
    assert (sent["Slow-node"].get("attempt", 0), sent["Slow-node"].get("lost", 0)) == (0, 0)
    # the next sweep waits for the envelope's answer instead of resending again
    assert sweeper.sweep().tasks == 0 and resent() == {}


def test_sweeper_leaves_a_node_within_its_time_limit(run: FlowRun) -> None:
    _started(run, "Slow", attempts=1, ago=1)
    assert sweeper.sweep().tasks == 0


def test_killed_attempt_runs_again_then_fails_once_the_lost_cap_is_reached(
    run: FlowRun, resent: Callable[[], dict[str, dict]]
) -> None:
    node = _started(run, "Slow", attempts=1, ago=60)
    sweeper.sweep()
    result = envelope.handle_message(node.pk, resent()[node.pk], hostname="test")
    assert (result.action, result.status) == ("lost", NodeRunStatus.RETRIED)
    node.refresh_from_db()
    assert node.status == NodeRunStatus.RETRIED and "WorkerLostError" in node.exception

    # killed again: its second attempt also ends by the time limit
    resent()
    NodeRun.objects.filter(pk=node.pk).update(
        status=NodeRunStatus.STARTED, attempts=2, updated_at=timezone.now() - timedelta(seconds=60))
    sweeper.sweep()
    result = envelope.handle_message(node.pk, resent()[node.pk], hostname="test")
    assert (result.action, result.status) == ("lost-too-often", NodeRunStatus.FAILED)
    node.refresh_from_db()
    assert node.status == NodeRunStatus.FAILED


def test_long_tasks_without_a_limit_do_not_hide_one_with_a_limit(
    run: FlowRun, resent: Callable[[], dict[str, dict]]
) -> None:
    # more started nodes without a time limit than one sweep reads, all older than the limited one
    long_ago = timezone.now() - timedelta(hours=2)
    NodeRun.objects.bulk_create(
        NodeRun(id=f"Endless-{i}", flow_run=run, name="Endless", status=NodeRunStatus.STARTED, attempts=1,
                started_at=long_ago, sent_at=long_ago)
        for i in range(sweeper._BATCH + 20)
    )
    NodeRun.objects.filter(name="Endless").update(updated_at=long_ago)
    _started(run, "Slow", attempts=1, ago=60)
    assert sweeper.sweep().tasks == 1
    assert set(resent()) == {"Slow-node"}
