"""Throttling and rate limits on real workers: starts of one node name are spaced by the interval.

Every throttled start is reserved in a ``ThrottleSlot`` row (under a row lock) and published with
a countdown to its slot, so the spacing holds however many instances are wanted at once, within
one run and across runs dispatched by different worker processes.

What is asserted, from the times the workers recorded: the k-th start (in time order) is at least
``k`` intervals after the moment the starts were requested (the ``sent_at`` of their node-run
rows, written by the dispatcher step that reserved the slots), minus a small tolerance. Comparing
consecutive starts instead would charge the first start's queue latency (it has no countdown,
the later ones wait in the worker's ETA timer) to the throttling; the anchored form holds however
busy the workers are, and there is never an upper bound on time. Without throttling the
instances here start within a few hundredths of a second of each other, so every assertion can
fail (checked by removing the ``throttling``/``rate_limit`` keys from the YAML).

Flow-level ``throttling`` applies where the engine starts a flow, i.e. to sub-flow starts, as in
Selinon (its ``run_flow`` publishes the first dispatcher without a countdown).
"""
from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import node_counts, wait_finished

pytestmark = pytest.mark.django_db(transaction=True)

FLOWS = Path(__file__).resolve().parent / "throttling_flows.yaml"
#: the configured interval of Throttled, Rated ("1/s") and throttled_sub
INTERVAL = 1.0
#: the slot is reserved a few milliseconds before the step stamps ``sent_at`` on its rows
TOLERANCE = 0.1


def offsets(times: list[datetime], anchor: datetime) -> list[float]:
    """Seconds from ``anchor`` to each time, in time order."""
    return [round((t - anchor).total_seconds(), 3) for t in sorted(times)]


def recorded(times: list[datetime | None], what: str) -> list[datetime]:
    """The times, every one of which must have been recorded."""
    assert times and None not in times, f"{what} not recorded: {times}"
    return [t for t in times if t is not None]


def start_times(run_ids: list[str], name: str) -> list[datetime]:
    from selinon_django.models import NodeRun

    rows = NodeRun.objects.filter(flow_run_id__in=run_ids, name=name).values_list("started_at", flat=True)
    return recorded(list(rows), f"started_at of {name}")


def requested_at(run_ids: list[str], name: str) -> datetime:
    """When the dispatcher asked for the first of the starts (it reserved the slots then)."""
    from selinon_django.models import NodeRun

    sent = NodeRun.objects.filter(flow_run_id__in=run_ids, name=name).values_list("sent_at", flat=True)
    return min(recorded(list(sent), f"sent_at of {name}"))


def assert_spaced(times: list[datetime], anchor: datetime, count: int) -> None:
    """The k-th start is no earlier than k intervals after ``anchor``: one start per slot."""
    assert len(times) == count
    after = offsets(times, anchor)
    earliest = [k * INTERVAL - TOLERANCE for k in range(count)]
    assert all(t >= e for t, e in zip(after, earliest, strict=True)), (
        f"starts {after} s after the request; throttled they cannot be earlier than {earliest}"
    )


@pytest.mark.parametrize(
    ("flow", "task", "slot_kind"),
    [("throttled_tasks", "Throttled", "task"), ("rate_limited_tasks", "Rated", "rate")],
    ids=["throttling", "rate-limit"],
)
def test_throttled_and_rate_limited_task_instances_are_spaced(
    live_workers: Any, load_flows: Any, flow: str, task: str, slot_kind: str
) -> None:
    """``throttling`` and ``rate_limit: 1/s`` both give one start per interval across all workers
    (no burst), through one slot row per task."""
    from selinon_django.models import ThrottleSlot
    from selinon_django.runtime.api import run_flow

    load_flows(FLOWS, [FLOWS])
    run_id = run_flow(flow, {"count": 3})
    run = wait_finished(run_id, workers=live_workers)
    assert run.status == "succeeded"
    assert node_counts(run_id) == Counter({(task, "succeeded"): 3})
    assert_spaced(start_times([run_id], task), requested_at([run_id], task), 3)
    assert ThrottleSlot.objects.filter(kind=slot_kind, name=task).count() == 1


def test_task_throttling_holds_across_runs_started_at_once(live_workers: Any, load_flows: Any) -> None:
    """Two runs dispatched at the same moment share the task's slots: four starts, all spaced."""
    from django.db import connection

    from selinon_django.runtime.api import run_flow

    load_flows(FLOWS, [FLOWS])
    barrier = threading.Barrier(2)
    run_ids: list[str] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait()
            run_ids.append(run_flow("throttled_tasks", {"count": 2}))
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors and len(run_ids) == 2
    for run_id in run_ids:
        assert wait_finished(run_id, workers=live_workers).status == "succeeded"
        assert node_counts(run_id) == Counter({("Throttled", "succeeded"): 2})
    assert_spaced(start_times(run_ids, "Throttled"), requested_at(run_ids, "Throttled"), 4)


def test_throttled_subflows_start_one_interval_apart(live_workers: Any, load_flows: Any) -> None:
    from selinon_django.models import FlowRun
    from selinon_django.runtime.api import run_flow

    load_flows(FLOWS, [FLOWS])
    run_id = run_flow("throttled_subflows", {"count": 3})
    run = wait_finished(run_id, workers=live_workers)
    assert run.status == "succeeded"
    assert node_counts(run_id, tree=True) == Counter({("throttled_sub", "succeeded"): 3, ("Plain", "succeeded"): 3})
    children = list(FlowRun.objects.filter(parent_run_id=run_id))
    assert [child.status for child in children] == ["succeeded"] * 3
    # a sub-flow starts when its first dispatcher step runs; its first task can only follow
    requested = requested_at([run_id], "throttled_sub")
    assert_spaced(recorded([child.started_at for child in children], "sub-flow starts"), requested, 3)
    assert_spaced(start_times([child.pk for child in children], "Plain"), requested, 3)
