"""What the run page shows, computed from a handful of queries whatever the size of the run.

A node name may have many node runs (foreach instances, earlier tries of a retried run); the
graph shows one node per name, so each name gets a combined status (the most "alive" one while
anything runs, else the worst outcome of its latest try) and counts per status when there is
more than one instance. The node runs are read without their heavy columns (results, tracebacks,
arguments): a 1,000-node run page reads 1,000 small rows, and the details of an instance are
read only for names with few instances (a foreach's instances are listed a page at a time, see
:mod:`selinon_django.admin.runinstances`). Nodes without a node run get a verdict once nothing
can start them any more: skipped (a condition said no) or not reached
(:mod:`selinon_django.engine.skipping`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, QuerySet, TextField
from django.db.models.functions import Cast, Left
from django.urls import reverse
from django.utils import timezone

from selinon_django.admin.nodegroups import NodeGroup, svg_id
from selinon_django.admin.runhistory import RunHistory, run_history
from selinon_django.admin.runtimeline import Timeline, timeline
from selinon_django.engine.skipping import SKIPPED, not_run
from selinon_django.graph import STATE_COLOURS
from selinon_django.models import FlowRun, NodeRun, TraceEventRecord
from selinon_django.models.runs import NODE_UNFINISHED_STATUSES

MAX_TRACE_EVENTS = 500
#: sub-flow runs linked as chips under the graph; more are in the run tree
MAX_CHILD_CHIPS = 20
#: the columns of a node run the page reads for every instance
LIGHT_FIELDS = (
    "id", "flow_run_id", "name", "kind", "status", "attempts", "worker", "is_fallback", "is_nowait", "created_at",
    "sent_at", "received_at", "started_at", "finished_at", "updated_at", "result_storage",
)
#: how much of an instance's node_args labels it (a foreach item), and of its exception
ARGS_TEXT = 200
ERROR_TEXT = 300
#: how long after its stamp a node row may become visible (commit delays, clock skew between the
#: processes that write rows): the live view's cursor stays this far behind (see admin.runlive)
OVERLAP = timedelta(seconds=1)
#: the colour of nodes a run skipped (not a node-run status: no node run exists)
SKIPPED_COLOUR = STATE_COLOURS.get(SKIPPED, "#f2c4de")


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def light_nodes(queryset: QuerySet[NodeRun]) -> QuerySet[NodeRun]:
    """Node runs without their heavy columns, with the start of their arguments and exception."""
    return queryset.only(*LIGHT_FIELDS).annotate(
        args_text=Left(Cast("node_args", TextField()), ARGS_TEXT),
        error_text=Left("exception", ERROR_TEXT),
    )


def watermark(now: datetime) -> datetime:
    """The live view's cursor for an answer given at ``now``: every node row stamped before it is
    visible by then, so it is in this answer or an earlier one."""
    return now - OVERLAP


def first_line(text: str) -> str:
    return (text or "").strip().split("\n", 1)[0]


@dataclass
class RunSnapshot:
    run: FlowRun
    groups: list[NodeGroup]
    children: dict[str, FlowRun]
    trace: list[TraceEventRecord]
    history: RunHistory
    timeline: Timeline
    #: {node name: "skipped" | "not reached"} for nodes without a node run that will not run
    not_run: dict[str, str] = field(default_factory=dict)
    #: {node name: position in the flow} (graph ids, anchors)
    order: dict[str, int] = field(default_factory=dict)
    trace_total: int = 0
    #: the newest trace event id the page knows of (the live view sends newer ones)
    trace_cursor: int = 0
    #: the live view's cursor: node rows stamped before it are on this page
    cursor: datetime | None = None

    @property
    def node_count(self) -> int:
        return sum(len(group.runs) for group in self.groups)

    @property
    def child_chips(self) -> list[FlowRun]:
        return list(self.children.values())[:MAX_CHILD_CHIPS]

    def node_states(self) -> dict[str, str]:
        states = {group.name: group.status for group in self.groups}
        states.update({name: SKIPPED for name, verdict in self.not_run.items() if verdict == SKIPPED})
        return states

    def node_attributes(self) -> dict[str, dict[str, str]]:
        """SVG ids for the page's scripts, counts for foreach nodes, the details each node opens."""
        attributes: dict[str, dict[str, str]] = {}
        groups = {group.name: group for group in self.groups}
        for name, index in self.order.items():
            group = groups.get(name)
            extra = {"id": svg_id(index), "URL": f"#selinon-group-{index}"}
            if group is None:
                verdict = self.not_run.get(name)
                extra["tooltip"] = f"{name}: {verdict}" if verdict else f"{name}: not started yet"
                if verdict == SKIPPED:
                    extra["style"] = "filled,dashed"
            else:
                extra["tooltip"] = f"{name}: {group.counts_text}"
                if len(group.runs) > 1:
                    extra["xlabel"] = f"x{len(group.runs)}: {group.counts_text}"
                elif group.kind == NodeRun.Kind.FLOW:  # one sub-flow run: the node opens that run's page
                    extra["URL"], extra["target"] = run_url(group.runs[0].id), "_top"
            attributes[name] = extra
        return attributes


def run_url(run_id: str) -> str:
    return reverse("admin:selinon_django_flowrun_change", args=[run_id])


def node_url(node_id: str) -> str:
    return reverse("admin:selinon_django_noderun_change", args=[node_id])


def flow_order(run: FlowRun) -> dict[str, int]:
    """Node names in the order the flow's definition names them (edges, then failures)."""
    flow = run.revision.system_config().flows.get(run.flow_name)
    order: dict[str, int] = {}
    if flow is not None:
        for name in flow.ordered_nodes():
            order.setdefault(name, len(order))
    return order


def group_nodes(nodes: list[NodeRun], order: dict[str, int], tries: list[datetime]) -> list[NodeGroup]:
    """``nodes`` (creation order) grouped by name in ``order`` (names not in it appended), each
    node numbered with the try it belongs to (``tries``: when each earlier try was retried)."""
    by_name: dict[str, list[NodeRun]] = {}
    for node in nodes:
        node.try_number = 1 + sum(1 for moment in tries if moment <= node.created_at)  # type: ignore[attr-defined]
        by_name.setdefault(node.name, []).append(node)
    for name in by_name:
        order.setdefault(name, len(order))
    return [
        NodeGroup(name=name, kind=runs[0].kind, runs=runs, index=order[name],
                  latest_try=max(getattr(run, "try_number", 1) for run in runs))
        for name, runs in sorted(by_name.items(), key=lambda item: order[item[0]])
    ]


def label_instances(groups: list[NodeGroup]) -> None:
    """Each instance's label: its foreach item (its node_args, when they tell the instances
    apart: a sub-flow's item with ``propagate_result``) or its place among the group's
    instances (``#3``: tasks never see the item, Selinon gives them the flow's node_args)."""
    for group in groups:
        differ = group.labels_differ
        for position, node in enumerate(group.runs, start=1):
            text = getattr(node, "args_text", None) or ""
            node.label = text if differ else f"#{position}"  # type: ignore[attr-defined]


def decorate_children(nodes: list[NodeRun], children: dict[str, FlowRun]) -> None:
    """A sub-flow node's status and times follow its child run when the child is further on."""
    for node in nodes:
        child = children.get(node.id)
        if child is None:
            continue
        if child.is_finished and not node.is_finished:
            node.status = child.status
        node.started_at = node.started_at or child.started_at
        node.finished_at = node.finished_at or child.finished_at


def verdicts(run: FlowRun, groups: list[NodeGroup]) -> dict[str, str]:
    """The nodes of the run's flow without a node run that will not run (see engine.skipping)."""
    flow = run.revision.system_config().flows.get(run.flow_name)
    if flow is None:
        return {}
    state = run.state or {}
    active = {node.get("name") for node in state.get("active_nodes") or ()} | set(state.get("failed_nodes") or {})
    active |= {group.name for group in groups if any(node.status in NODE_UNFINISHED_STATUSES for node in group.runs)}
    return not_run(
        flow,
        finished=set(state.get("finished_nodes") or {}),
        active={name for name in active if name},
        instances={group.name for group in groups},
        started=run.status != FlowRun.Status.PENDING or run.state_version > 0,
        ended=run.is_finished,
    )


def add_details(groups: list[NodeGroup]) -> None:
    """The heavy columns (arguments, parents, result, traceback) of the instances of small
    groups, in one query, for the page's detail lists."""
    wanted = {node.id: node for group in groups if group.detailed for node in group.runs}
    if not wanted:
        return
    for row in NodeRun.objects.filter(pk__in=list(wanted)).only(
        "id", "node_args", "parent", "result", "exception", "traceback"
    ):
        node = wanted[row.id]
        node.args_json = pretty_json(row.node_args)  # type: ignore[attr-defined]
        node.parent_json = pretty_json(row.parent) if row.parent else ""  # type: ignore[attr-defined]
        node.result_json = pretty_json(row.result) if row.result is not None else ""  # type: ignore[attr-defined]
        node.exception_text = row.exception  # type: ignore[attr-defined]
        node.traceback_text = row.traceback  # type: ignore[attr-defined]


def load_children(run: FlowRun) -> dict[str, FlowRun]:
    return {
        child.id: child
        for child in FlowRun.objects.filter(parent_run=run).only(
            "id", "status", "flow_name", "parent_node_id", "updated_at", "created_at", "started_at", "finished_at"
        ).order_by("created_at", "id")
    }


def snapshot(run: FlowRun) -> RunSnapshot:
    """The run's node runs grouped by name (graph order), its sub-flow runs, history and trace.

    A fixed number of queries whatever the number of nodes: node runs (light), the details of
    small groups, child runs, tries and actions, trace events and their count.
    """
    nodes = list(light_nodes(NodeRun.objects.filter(flow_run=run)).order_by("created_at", "id"))
    children = load_children(run)
    trace = list(TraceEventRecord.objects.filter(flow_run=run).order_by("created_at", "id")[:MAX_TRACE_EVENTS])
    trace_total, trace_cursor = len(trace), (trace[-1].pk if trace else 0)
    if trace_total == MAX_TRACE_EVENTS:
        # the page shows the first events only: the live view sends the ones recorded after now
        totals = TraceEventRecord.objects.filter(flow_run=run).aggregate(total=Count("id"), last=Max("id"))
        trace_total, trace_cursor = totals["total"], totals["last"]
    for event in trace:
        event.details_json = json.dumps(event.details, sort_keys=True, default=str)  # type: ignore[attr-defined]
    for child_run in children.values():
        child_run.colour = STATE_COLOURS.get(child_run.status, "#999999")  # type: ignore[attr-defined]
    decorate_children(nodes, children)
    history = run_history(run, nodes)
    order = flow_order(run)
    groups = group_nodes(nodes, order, history.retried_at)
    label_instances(groups)
    add_details(groups)
    now = timezone.now()
    return RunSnapshot(
        run=run,
        groups=groups,
        children=children,
        trace=trace,
        trace_total=trace_total,
        trace_cursor=trace_cursor,
        history=history,
        timeline=timeline(run, groups, now=now),
        not_run=verdicts(run, groups),
        order=order,
        # rows stamped up to a moment ago are on this page (see admin.runlive)
        cursor=watermark(now),
    )
