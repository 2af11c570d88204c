"""Flows end to end on real workers: exact node-run rows for each engine feature."""
from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.integration.helpers import node_counts, wait_finished
from tests.worker_fixtures import ON_REDIS_AND_RABBITMQ, ON_REDIS_AND_RABBITMQ_QUEUES

pytestmark = pytest.mark.django_db(transaction=True)


@ON_REDIS_AND_RABBITMQ_QUEUES
def test_chain_of_five(live_workers: Any, load_flows: Any) -> None:
    from celery.result import AsyncResult

    from selinon_django.models import TraceEventRecord
    from selinon_django.runtime.api import run_flow

    load_flows()
    run_id = run_flow("chain5", {"x": 1})
    run = wait_finished(run_id, workers=live_workers)
    assert run.status == "succeeded"
    assert node_counts(run_id) == Counter({(f"T{i}", "succeeded"): 1 for i in range(1, 6)})
    assert run.state["finished_nodes"].keys() == {"T1", "T2", "T3", "T4", "T5"}
    # Selinon's way of waiting: the outcome is in the result backend under the run id
    assert AsyncResult(run_id).get(timeout=10)["finished_nodes"].keys() == run.state["finished_nodes"].keys()
    # ...and only there: node tasks and dispatcher steps store no result rows of their own (a
    # message sent by name asked the worker to store one per task, a transaction per hop)
    from django_celery_results.models import TaskResult

    assert list(TaskResult.objects.values_list("task_id", flat=True)) == [run_id]
    events = Counter(TraceEventRecord.objects.filter(flow_run_id=run_id).values_list("event", flat=True))
    assert events["TASK_SCHEDULE"] == 5
    assert events["TASK_START"] == 5
    assert events["FLOW_END"] == 1
    # T1's message ran the whole chain in one worker process (RUN_SUCCESSORS_INLINE): each node still
    # has its own row, started and finished in turn
    from selinon_django.models import NodeRun

    # (a hop whose optimistic write loses a race, say to a safety-net wake-up on a stalled machine,
    # publishes its successor instead: that one then carries the rest)
    nodes = {n.name: n for n in NodeRun.objects.filter(flow_run_id=run_id)}
    chain = [nodes[f"T{i}"] for i in range(1, 6)]
    assert chain[0].carried_by is None
    carried = [node for node in chain[1:] if node.carried_by is not None]
    assert len(carried) >= 3, [(n.name, n.carried_by) for n in chain]
    for i, node in enumerate(chain[1:], start=1):
        if node.carried_by is not None:  # carried by the message of an earlier node, on its worker
            carrier = next(n for n in chain[:i] if n.pk == node.carried_by)
            assert node.worker == carrier.worker
    assert all(chain[i].finished_at <= chain[i + 1].started_at for i in range(4))


@ON_REDIS_AND_RABBITMQ
def test_subflow_with_propagation(live_workers: Any, load_flows: Any) -> None:
    from selinon_django.models import FlowRun, NodeRun
    from selinon_django.runtime.api import run_flow

    load_flows()
    run_id = run_flow("parent", {"package": "x"})
    run = wait_finished(run_id, workers=live_workers)
    assert run.status == "succeeded"
    assert node_counts(run_id) == Counter({("T1", "succeeded"): 1, ("child", "succeeded"): 1, ("Echo", "succeeded"): 1})
    child = FlowRun.objects.get(parent_run_id=run_id)
    assert child.status == "succeeded" and child.node_args == {"package": "x"}
    assert node_counts(child.pk) == Counter({("Stored", "succeeded"): 1, ("Echo", "succeeded"): 1})
    echo = NodeRun.objects.get(flow_run_id=run_id, name="Echo")
    stored = NodeRun.objects.get(flow_run_id=child.pk, name="Stored")
    child_echo = NodeRun.objects.get(flow_run_id=child.pk, name="Echo")
    # propagate_finished: the task after the sub-flow sees the sub-flow's finished nodes
    assert echo.parent == {"child": {"Stored": [stored.pk], "Echo": [child_echo.pk]}}
    assert stored.result_storage == "Results"


@ON_REDIS_AND_RABBITMQ
def test_foreach_fans_out_and_in(live_workers: Any, load_flows: Any) -> None:
    from selinon_django.runtime.api import run_flow

    load_flows()
    run_id = run_flow("fanout", {"count": 20})
    run = wait_finished(run_id, workers=live_workers)
    assert run.status == "succeeded"
    assert node_counts(run_id) == Counter({("T1", "succeeded"): 1, ("Item", "succeeded"): 20, ("T2", "succeeded"): 20})


def test_fallback_recovers(live_workers: Any, load_flows: Any) -> None:
    from selinon_django.models import NodeRun
    from selinon_django.runtime.api import run_flow

    load_flows()
    run_id = run_flow("fallback", None)
    run = wait_finished(run_id, workers=live_workers)
    assert run.status == "succeeded"
    assert node_counts(run_id) == Counter(
        {("AlwaysFail", "failed"): 1, ("T1", "succeeded"): 1, ("Recover", "succeeded"): 1, ("T2", "succeeded"): 1}
    )
    failed = NodeRun.objects.get(flow_run_id=run_id, name="AlwaysFail")
    assert failed.attempts == 2  # max_retry: 1
    assert failed.exception == "ValueError: this task always fails"
    assert "Traceback" in failed.traceback
    assert NodeRun.objects.get(flow_run_id=run_id, name="Recover").is_fallback


@ON_REDIS_AND_RABBITMQ_QUEUES
def test_task_retries_counted_and_requested(live_workers: Any, load_flows: Any) -> None:
    from selinon_django.models import NodeRun
    from selinon_django.runtime.api import run_flow

    load_flows()
    run_id = run_flow("retries", {"failures": 2})
    run = wait_finished(run_id, workers=live_workers)
    assert run.status == "succeeded"
    assert node_counts(run_id) == Counter(
        {("Flaky", "succeeded"): 1, ("UserRetry", "succeeded"): 1, ("T1", "succeeded"): 1}
    )
    assert NodeRun.objects.get(flow_run_id=run_id, name="Flaky").attempts == 3
    assert NodeRun.objects.get(flow_run_id=run_id, name="UserRetry").attempts == 2


def test_nowait_node_is_not_waited_for(live_workers: Any, load_flows: Any) -> None:
    from selinon_django.models import NodeRun
    from selinon_django.runtime.api import run_flow
    from tests.integration.workers import wait_until

    load_flows()
    run_id = run_flow("nowait", None)
    run = wait_finished(run_id, workers=live_workers)
    assert run.status == "succeeded"
    assert "T2" not in run.state["finished_nodes"]
    wait_until(lambda: NodeRun.objects.filter(flow_run_id=run_id, name="T2", status="succeeded").exists(), timeout=20)
    assert node_counts(run_id) == Counter({("T1", "succeeded"): 1, ("T2", "succeeded"): 1, ("T3", "succeeded"): 1})
    assert NodeRun.objects.get(flow_run_id=run_id, name="T2").is_nowait


def test_selective_run_starts_only_the_path(live_workers: Any, load_flows: Any) -> None:
    from selinon_django.runtime.api import run_flow_selective

    load_flows()
    run_id = run_flow_selective("chain5", ["T3"], {"x": 1})
    run = wait_finished(run_id, workers=live_workers)
    assert run.status == "succeeded"
    assert node_counts(run_id) == Counter({("T1", "succeeded"): 1, ("T2", "succeeded"): 1, ("T3", "succeeded"): 1})


def test_failed_flow_and_result_backend(live_workers: Any, load_flows: Any) -> None:
    from celery.result import AsyncResult

    from selinon_django.models import NodeRun
    from selinon_django.runtime.api import run_flow

    load_flows()
    run_id = run_flow("failing", None)
    run = wait_finished(run_id, workers=live_workers)
    assert run.status == "failed"
    assert node_counts(run_id) == Counter({("T1", "succeeded"): 1, ("AlwaysFail", "failed"): 1})
    assert NodeRun.objects.get(flow_run_id=run_id, name="AlwaysFail").attempts == 2
    with pytest.raises(Exception, match="flow failed"):
        AsyncResult(run_id).get(timeout=10)


def test_fatal_error_is_not_retried(live_workers: Any, load_flows: Any) -> None:
    from selinon_django.models import NodeRun
    from selinon_django.runtime.api import run_flow

    load_flows()
    run_id = run_flow("fatal", None)
    assert wait_finished(run_id, workers=live_workers).status == "failed"
    assert NodeRun.objects.get(flow_run_id=run_id, name="Fatal").attempts == 1


def test_run_report_tree(live_workers: Any, load_flows: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from selinon_django.runtime.api import run_flow
    from selinon_django.runtime.report import run_report

    load_flows()
    run_id = run_flow("parent", {"package": "x"})
    wait_finished(run_id, workers=live_workers)
    with CaptureQueriesContext(connection) as queries:
        report = run_report(run_id)
    assert len(queries) == 4  # the run, its children, their children (none), all node runs
    assert report["status"] == "succeeded"
    assert [n["name"] for n in report["nodes"]] == ["T1", "child", "Echo"]
    child = report["nodes"][1]
    assert child["kind"] == "flow"
    assert [n["name"] for n in child["run"]["nodes"]] == ["Stored", "Echo"]
    assert report["nodes"][0]["attempts"] == 1
    assert report["nodes"][0]["result"] == {"task": "T1", "ok": True}
