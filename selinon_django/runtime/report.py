"""The run report: a flow run and every node it started, as one JSON tree.

Shape (issue 3, "The run report")::

    {"flow": NAME, "id": RUN_ID, "status": ..., "node_args": ANY,
     "nodes": [{"name", "kind": "task", "id", "status", "parent", "node_args", "attempts", "result"},
               {"name", "kind": "flow", "id", "status", "parent", "run": <same shape>}]}

Nodes are in start order. The tree is built from two kinds of query whatever its size: one per
sub-flow depth for the flow runs, one for all their node runs. The admin, the REST API and
``selinon_run --report`` use it.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from selinon_django.models.runs import FlowRun, NodeRun


def _runs_in_tree(run_id: str) -> dict[str, FlowRun]:
    runs = {r.pk: r for r in FlowRun.objects.filter(pk=run_id)}
    frontier = list(runs)
    while frontier:
        children = list(FlowRun.objects.filter(parent_run_id__in=frontier))
        for child in children:
            runs[child.pk] = child
        frontier = [c.pk for c in children]
    return runs


def run_report(run_id: str, *, include_timings: bool = False) -> dict[str, Any]:
    """The report of run ``run_id`` (``FlowRun.DoesNotExist`` if there is none)."""
    runs = _runs_in_tree(run_id)
    if run_id not in runs:
        raise FlowRun.DoesNotExist(f"no flow run {run_id}")
    nodes_by_run: dict[str, list[NodeRun]] = defaultdict(list)
    for node in NodeRun.objects.filter(flow_run_id__in=list(runs)).order_by("created_at", "pk"):
        nodes_by_run[node.flow_run_id].append(node)
    return _report(runs[run_id], runs, nodes_by_run, include_timings)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _report(run: FlowRun, runs: dict[str, FlowRun], nodes_by_run: dict[str, list[NodeRun]],
            timings: bool) -> dict[str, Any]:
    report: dict[str, Any] = {
        "flow": run.flow_name,
        "id": run.pk,
        "status": run.status,
        "node_args": run.node_args,
        "nodes": [],
    }
    if run.error:
        report["error"] = run.error
    if timings:
        report.update(created_at=_iso(run.created_at), started_at=_iso(run.started_at),
                      finished_at=_iso(run.finished_at), retried_count=run.retried_count)
    for node in nodes_by_run.get(run.pk, []):
        entry: dict[str, Any] = {
            "name": node.name,
            "kind": node.kind,
            "id": node.pk,
            "status": node.status,
            "parent": node.parent,
        }
        if node.is_fallback:
            entry["fallback"] = True
        if node.is_nowait:
            entry["nowait"] = True
        if node.kind == NodeRun.Kind.FLOW:
            child = runs.get(node.pk)
            if child is not None:
                entry["run"] = _report(child, runs, nodes_by_run, timings)
        else:
            entry["node_args"] = node.node_args
            entry["attempts"] = node.attempts
            entry["result"] = node.result
            if node.exception:
                entry["exception"] = node.exception
        if timings:
            entry.update(worker=node.worker, sent_at=_iso(node.sent_at), started_at=_iso(node.started_at),
                         finished_at=_iso(node.finished_at))
        report["nodes"].append(entry)
    return report


def format_tree(report: dict[str, Any], indent: str = "") -> str:
    """The report as an indented text tree (what ``selinon_run --wait`` prints)."""
    lines = [f"{indent}{report['flow']} {report['id']} [{report['status']}]"]
    for node in report["nodes"]:
        marks = "".join(f" ({m})" for m in ("fallback", "nowait") if node.get(m))
        if node["kind"] == "flow" and "run" in node:
            lines.append(format_tree(node["run"], indent + "  ").rstrip("\n") + marks)
            continue
        extra = f" attempts={node.get('attempts', 0)}"
        if node.get("exception"):
            extra += f" error={node['exception'][:80]!r}"
        lines.append(f"{indent}  {node['name']} {node['id'][:8]} [{node['status']}]{extra}{marks}")
    return "\n".join(lines) + "\n"
