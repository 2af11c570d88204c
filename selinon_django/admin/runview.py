"""What the run page shows, computed from a handful of queries (the same for the live endpoint).

A node name may have many node runs (foreach instances, retries of the flow); the graph shows one
node per name, so each name gets a combined status (the most "alive" one while anything runs, else
the worst outcome) and counts per status when there is more than one instance.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils import timezone

from selinon_django.graph import STATE_COLOURS
from selinon_django.models import FlowRun, NodeRun, TraceEventRecord

#: while a node name has unfinished instances its colour is the first of these it has
_ACTIVE_ORDER = ("started", "retried", "received", "sent", "pending")
#: once all are finished: failed wins over revoked over succeeded
_FINISHED_ORDER = ("failed", "revoked", "succeeded")
#: instances listed per node name on the page (the counts cover all of them)
MAX_INSTANCES_LISTED = 50
MAX_TIMELINE_ROWS = 300
MAX_TRACE_EVENTS = 500


#: an instance in one of these has left the queue: its group has begun
_BEGUN = frozenset(("started", "retried", *_FINISHED_ORDER))


def combined_status(statuses: list[str]) -> str:
    """One status for all instances of a node name.

    A group of several instances that has begun (one of them started or already finished) and
    still has unfinished ones is ``started`` until the last one finishes: picking the most
    "alive" instance status instead made a foreach that works through its instances a few at a
    time flicker between polls (started while one runs, sent in the gap before the next starts,
    retried while one waits for its retry).
    """
    unfinished = [status for status in statuses if status not in _FINISHED_ORDER]
    if len(statuses) > 1 and unfinished and any(status in _BEGUN for status in statuses):
        return "started"
    for status in (*_ACTIVE_ORDER, *_FINISHED_ORDER):
        if status in statuses:
            return status
    return statuses[0] if statuses else "pending"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


@dataclass
class NodeGroup:
    """All node runs of one node name in a flow run."""

    name: str
    kind: str
    runs: list[NodeRun]
    index: int

    @property
    def status(self) -> str:
        return combined_status([run.status for run in self.runs])

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for run in self.runs:
            counts[run.status] = counts.get(run.status, 0) + 1
        return dict(sorted(counts.items()))

    @property
    def counts_text(self) -> str:
        return ", ".join(f"{count} {status}" for status, count in self.counts.items())

    @property
    def colour(self) -> str:
        return STATE_COLOURS.get(self.status, "#999999")

    @property
    def svg_id(self) -> str:
        return f"selinon_node_{self.index}"

    @property
    def listed(self) -> list[NodeRun]:
        return self.runs[:MAX_INSTANCES_LISTED]

    @property
    def unlisted(self) -> int:
        return max(0, len(self.runs) - MAX_INSTANCES_LISTED)


@dataclass
class TimelineRow:
    node: NodeRun
    queued_left: float
    queued_width: float
    run_left: float
    run_width: float
    colour: str


@dataclass
class RunSnapshot:
    run: FlowRun
    groups: list[NodeGroup]
    children: dict[str, FlowRun]
    trace: list[TraceEventRecord]
    timeline: list[TimelineRow] = field(default_factory=list)
    timeline_span: float = 0.0
    timeline_hidden: int = 0

    @property
    def node_count(self) -> int:
        return sum(len(group.runs) for group in self.groups)

    @property
    def signature(self) -> str:
        """Changes whenever anything the page shows changes (the live view compares it)."""
        digest = hashlib.sha1(usedforsecurity=False)
        digest.update(f"{self.run.status}|{self.run.state_version}|{self.run.updated_at}".encode())
        for group in self.groups:
            for node in group.runs:
                digest.update(f"{node.id}|{node.status}|{node.attempts}|{node.updated_at}".encode())
        digest.update(str(len(self.trace)).encode())
        return digest.hexdigest()[:16]

    def node_states(self) -> dict[str, str]:
        return {group.name: group.status for group in self.groups}

    def node_attributes(self) -> dict[str, dict[str, str]]:
        """SVG ids for the live script, counts for foreach nodes, links to sub-flow runs."""
        attributes: dict[str, dict[str, str]] = {}
        for group in self.groups:
            extra = {"id": group.svg_id, "tooltip": f"{group.name}: {group.counts_text}"}
            if len(group.runs) > 1:
                extra["xlabel"] = f"x{len(group.runs)}: {group.counts_text}"
            if group.kind == NodeRun.Kind.FLOW:
                target = group.runs[-1].id if len(group.runs) == 1 else None
                extra["URL"] = run_url(target) if target else f"#selinon-group-{group.index}"
                extra["target"] = "_top"
            else:
                extra["URL"] = f"#selinon-group-{group.index}"
            attributes[group.name] = extra
        return attributes


def run_url(run_id: str) -> str:
    return reverse("admin:selinon_django_flowrun_change", args=[run_id])


def _seconds(start: datetime, moment: datetime) -> float:
    return max(0.0, (moment - start).total_seconds())


def _timeline(run: FlowRun, nodes: list[NodeRun]) -> tuple[list[TimelineRow], float, int]:
    if not nodes:
        return [], 0.0, 0
    now = timezone.now()
    start = min([run.created_at, *(node.created_at for node in nodes)])
    end = run.finished_at or now
    end = max([end, *(node.finished_at or (now if not node.is_finished else node.updated_at) for node in nodes)])
    span = max(_seconds(start, end), 0.001)
    rows: list[TimelineRow] = []
    for node in nodes[:MAX_TIMELINE_ROWS]:
        queued_at = node.sent_at or node.created_at
        running_at = node.started_at
        finished_at = node.finished_at or (now if not node.is_finished else node.updated_at)
        queued_end = running_at or finished_at
        run_start = running_at or queued_end
        rows.append(
            TimelineRow(
                node=node,
                queued_left=100 * _seconds(start, queued_at) / span,
                queued_width=100 * _seconds(queued_at, queued_end) / span,
                run_left=100 * _seconds(start, run_start) / span,
                run_width=max(0.4, 100 * _seconds(run_start, finished_at) / span) if running_at else 0.0,
                colour=STATE_COLOURS.get(node.status, "#999999"),
            )
        )
    return rows, span, max(0, len(nodes) - MAX_TIMELINE_ROWS)


def snapshot(run: FlowRun) -> RunSnapshot:
    """The run's node runs grouped by name (graph order), its sub-flow runs and trace events.

    Three queries whatever the number of nodes: node runs, child runs, trace events.
    """
    nodes = list(NodeRun.objects.filter(flow_run=run).order_by("created_at", "id"))
    children = {
        child.id: child
        for child in FlowRun.objects.filter(parent_run=run).only(
            "id", "status", "flow_name", "parent_node_id", "updated_at", "created_at", "started_at", "finished_at"
        )
    }
    trace = list(TraceEventRecord.objects.filter(flow_run=run).order_by("created_at", "id")[:MAX_TRACE_EVENTS])

    config = run.revision.system_config()
    flow = config.flows.get(run.flow_name)
    order: dict[str, int] = {}
    if flow is not None:
        for edge in flow.edges:
            for name in (*edge.from_, *edge.to):
                order.setdefault(name, len(order))
        for failure in flow.failures:
            for name in (*sorted(failure.nodes), *(() if failure.fallback is True else failure.fallback)):
                order.setdefault(name, len(order))
    by_name: dict[str, list[NodeRun]] = {}
    for event in trace:
        event.details_json = json.dumps(event.details, sort_keys=True, default=str)  # type: ignore[attr-defined]
    for child_run in children.values():
        child_run.colour = STATE_COLOURS.get(child_run.status, "#999999")  # type: ignore[attr-defined]
    for node in nodes:
        node.args_json = pretty_json(node.node_args)  # type: ignore[attr-defined]
        node.parent_json = pretty_json(node.parent)  # type: ignore[attr-defined]
        node.result_json = pretty_json(node.result)  # type: ignore[attr-defined]
        # a sub-flow node's status follows its child run when the child is newer
        child = children.get(node.id)
        if child is not None:
            if child.is_finished and not node.is_finished:
                node.status = child.status
            # a sub-flow node runs while its child run does (for the timeline)
            node.started_at = node.started_at or child.started_at
            node.finished_at = node.finished_at or child.finished_at
        by_name.setdefault(node.name, []).append(node)
    for name in by_name:
        order.setdefault(name, len(order))
    groups = [
        NodeGroup(name=name, kind=runs[0].kind, runs=runs, index=order[name])
        for name, runs in sorted(by_name.items(), key=lambda item: order[item[0]])
    ]
    rows, span, hidden = _timeline(run, nodes)
    return RunSnapshot(
        run=run,
        groups=groups,
        children=children,
        trace=trace,
        timeline=rows,
        timeline_span=span,
        timeline_hidden=hidden,
    )
