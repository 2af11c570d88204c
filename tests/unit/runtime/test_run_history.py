"""A run's earlier tries are kept: ``retry_flow`` and a flow's ``max_retry`` each write the try that ended."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from selinon_django.config import SourceFile, load_config_from_sources
from selinon_django.models import ConfigRevision, FlowRun, NodeRun, RunAction, RunAttempt
from selinon_django.revisions import load_revision
from selinon_django.runtime import dispatcher
from selinon_django.runtime.api import retry_flow, run_flow
from selinon_django.runtime.configs import forget_configs

CONFIG = """\
tasks:
  - {name: A, import: demo_project.tasks.never_imported}
  - {name: B, import: demo_project.tasks.never_imported}
flows: [main, again]
flow-definitions:
  - name: main
    edges:
      - {from: , to: A}
      - {from: A, to: B}
  - name: again
    max_retry: 1
    edges:
      - {from: , to: A}
"""


@pytest.fixture
def revision(db: None) -> ConfigRevision:
    forget_configs()  # another test's revision may have had the same id
    return load_revision(load_config_from_sources([SourceFile("all.yaml", "nodes", CONFIG)]))[0]


def fail_node_and_step(run_id: str, name: str) -> FlowRun:
    NodeRun.objects.filter(flow_run_id=run_id, name=name).exclude(status="failed").update(
        status="failed", exception="ValueError: boom"
    )
    with transaction.atomic():
        run = FlowRun.objects.locked().get(pk=run_id)
        dispatcher.step_locked(run)
    return FlowRun.objects.get(pk=run_id)


def test_retry_flow_keeps_the_failed_try(revision: ConfigRevision) -> None:
    run_id = str(run_flow("main", {"x": 1}))
    failed = fail_node_and_step(run_id, "A")
    assert failed.status == "failed"

    retry_flow(run_id)
    [attempt] = RunAttempt.objects.filter(run_id=run_id)
    assert (attempt.status, attempt.cause) == ("failed", "retry")
    assert "flow failed" in attempt.error and "A" in attempt.error
    assert attempt.finished_at == failed.finished_at
    # the failed node run stays, created before the retry; the new one after it
    old, new = NodeRun.objects.filter(flow_run_id=run_id, name="A").order_by("created_at")
    assert old.status == "failed" and old.created_at < attempt.retried_at <= new.created_at

    fail_node_and_step(run_id, "A")
    retry_flow(run_id)
    assert RunAttempt.objects.filter(run_id=run_id).count() == 2


def test_a_flow_started_over_by_max_retry_keeps_the_failed_try(revision: ConfigRevision) -> None:
    run_id = str(run_flow("again"))
    retrying = fail_node_and_step(run_id, "A")
    assert retrying.status == "retrying"
    [attempt] = RunAttempt.objects.filter(run_id=run_id)
    assert (attempt.status, attempt.cause) == ("failed", "flow_retry")
    assert attempt.error == "attempt failed (failed_nodes): ['A']"


def test_a_refused_retry_keeps_nothing(revision: ConfigRevision) -> None:
    run_id = str(run_flow("main"))
    with pytest.raises(Exception, match="only a failed run"):
        retry_flow(run_id)
    assert not RunAttempt.objects.exists()


def test_a_pruned_run_takes_its_history_with_it(revision: ConfigRevision) -> None:
    run_id = str(run_flow("main"))
    fail_node_and_step(run_id, "A")
    retry_flow(run_id)
    fail_node_and_step(run_id, "A")
    RunAction.objects.create(run_id=run_id, action="retry", via="command", username="ops")
    call_command("selinon_prune", "--older-than", "0", stdout=StringIO())
    assert not FlowRun.objects.filter(pk=run_id).exists()
    assert not RunAttempt.objects.exists() and not RunAction.objects.exists()
