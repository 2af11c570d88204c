"""Assertions on runs: wait for a run to end, count node runs by name and status."""
from __future__ import annotations

from collections import Counter
from typing import Any

from tests.integration.workers import wait_until


def wait_finished(run_id: str, *, timeout: float = 60, workers: Any = None) -> Any:
    from selinon_django.models import FlowRun

    def finished() -> Any:
        run = FlowRun.objects.filter(pk=run_id).first()
        return run if run is not None and run.is_finished else None

    def message() -> str:
        run = FlowRun.objects.filter(pk=run_id).first()
        text = f"run {run_id} to finish (now {run.status if run else 'missing'}; state {run.state if run else None})"
        return text + ("\n" + workers.logs() if workers is not None else "")

    return wait_until(finished, timeout=timeout, interval=0.05, message=message)


def tree_ids(run_id: str) -> list[str]:
    from selinon_django.models import FlowRun

    ids, frontier = [run_id], [run_id]
    while frontier:
        frontier = list(FlowRun.objects.filter(parent_run_id__in=frontier).values_list("id", flat=True))
        ids += frontier
    return ids


def node_counts(run_id: str, *, tree: bool = False) -> Counter[tuple[str, str]]:
    """``{(node name, status): count}`` of a run (and its sub-flows with ``tree``)."""
    from selinon_django.models import NodeRun

    runs = tree_ids(run_id) if tree else [run_id]
    return Counter(NodeRun.objects.filter(flow_run_id__in=runs).values_list("name", "status"))
