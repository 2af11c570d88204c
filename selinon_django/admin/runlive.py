"""What changed in a run since the run page last asked: the live view's delta.

The page polls about once a second while a run runs. Sending the whole page each time cost a
1,000-node run 0.7 MB and 0.3 s of server time per poll per open tab; instead the page sends
back the cursor of its last answer and gets only the node rows written since then, the groups
(node names) those rows belong to, the run's summary when the run row changed, and the trace
events recorded since.

The cursor is a watermark: every node row stamped at or before it has been sent. Rows are
stamped by the process that writes them before its transaction commits, and workers' clocks
differ a little, so a row may become visible a little after its stamp: a poll at time ``now``
moves the watermark only to ``now - OVERLAP`` (:data:`selinon_django.admin.runview.OVERLAP`),
and the rows stamped in that last second come again in the next answer. A row sent twice is
applied twice, which changes nothing; the last answer, once the run has ended, brings the whole
page anyway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from selinon_django.admin.nodegroups import NodeGroup
from selinon_django.admin.runview import (
    decorate_children,
    flow_order,
    group_nodes,
    label_instances,
    light_nodes,
    watermark,
)
from selinon_django.engine.skipping import not_run
from selinon_django.models import FlowRun, NodeRun, RunAttempt, TraceEventRecord
from selinon_django.models.runs import NODE_UNFINISHED_STATUSES

#: trace events sent per poll (the page shows the first MAX_TRACE_EVENTS anyway)
LIVE_TRACE_EVENTS = 50


def format_cursor(moment: datetime | None, trace_id: int) -> str:
    return f"{moment.isoformat() if moment else ''}|{trace_id}"


def parse_cursor(text: str | None) -> tuple[datetime | None, int]:
    """``(moment, trace event id)``; ``(None, 0)`` for a missing or malformed cursor (a full answer)."""
    moment_text, _, trace_text = (text or "").partition("|")
    try:
        moment = parse_datetime(moment_text) if moment_text else None
    except ValueError:
        moment = None
    if moment is not None and timezone.is_naive(moment):
        moment = None
    try:
        trace_id = max(0, int(trace_text or 0))
    except ValueError:
        trace_id = 0
    return moment, trace_id


@dataclass
class LiveDelta:
    run: FlowRun
    #: node rows written since the cursor (minus the overlap), creation order
    changed: list[NodeRun]
    #: every instance of the names those rows belong to, grouped as the page groups them
    groups: list[NodeGroup]
    not_run: dict[str, str]
    order: dict[str, int]
    trace: list[TraceEventRecord]
    run_changed: bool
    cursor: str
    elapsed: float
    node_count: int


def live_delta(run: FlowRun, since: datetime, trace_id: int) -> LiveDelta:
    """The changes of ``run`` since ``since``: a fixed number of queries over the run's rows."""
    window = since
    changed = list(
        light_nodes(NodeRun.objects.filter(flow_run=run, updated_at__gt=window)).order_by("created_at", "id")
    )
    touched = {node.name for node in changed}
    finished_children = list(
        FlowRun.objects.filter(parent_run=run, updated_at__gt=window).only(
            "id", "status", "flow_name", "started_at", "finished_at", "updated_at", "created_at"
        )
    )
    touched |= {child.flow_name for child in finished_children}
    members = list(light_nodes(NodeRun.objects.filter(flow_run=run, name__in=touched)).order_by("created_at", "id")) \
        if touched else []
    flow_ids = [node.id for node in members if node.kind == NodeRun.Kind.FLOW]
    children = {child.id: child for child in FlowRun.objects.filter(pk__in=flow_ids).only(
        "id", "status", "flow_name", "started_at", "finished_at", "updated_at", "created_at")} if flow_ids else {}
    decorate_children(members, children)
    retried_at = list(RunAttempt.objects.filter(run=run).order_by("retried_at").values_list("retried_at", flat=True))
    order = flow_order(run)
    groups = group_nodes(members, order, retried_at)
    label_instances(groups)
    by_id = {node.id: node for node in members}
    changed = [by_id.get(node.id, node) for node in changed]
    verdicts, node_count = _verdicts(run)
    trace = list(TraceEventRecord.objects.filter(flow_run=run, pk__gt=trace_id).order_by("id")[:LIVE_TRACE_EVENTS])
    for event in trace:
        event.details_json = json.dumps(event.details, sort_keys=True, default=str)  # type: ignore[attr-defined]
    newest = max(since, watermark(timezone.now()))
    return LiveDelta(
        run=run, changed=changed, groups=groups, not_run=verdicts, order=order, trace=trace,
        run_changed=run.updated_at > window, cursor=format_cursor(newest, trace[-1].pk if trace else trace_id),
        elapsed=max(0.0, ((run.finished_at or timezone.now()) - run.created_at).total_seconds()),
        node_count=node_count,
    )


def _verdicts(run: FlowRun) -> tuple[dict[str, str], int]:
    """engine.skipping's verdicts and the run's number of node runs, from one aggregate (per
    name and status: which names have instances, which have unfinished ones)."""
    counts = {(name, status): count for name, status, count in NodeRun.objects.filter(flow_run=run).values(
        "name", "status").annotate(count=Count("id")).values_list("name", "status", "count").order_by()}
    pairs = set(counts)
    node_count = sum(counts.values())
    flow = run.revision.system_config().flows.get(run.flow_name)
    if flow is None:
        return {}, node_count
    state = run.state or {}
    active = {node.get("name") for node in state.get("active_nodes") or ()} | set(state.get("failed_nodes") or {})
    active |= {name for name, status in pairs if status in NODE_UNFINISHED_STATUSES}
    return not_run(
        flow,
        finished=set(state.get("finished_nodes") or {}),
        active={name for name in active if name},
        instances={name for name, _ in pairs},
        started=run.status != FlowRun.Status.PENDING or run.state_version > 0,
        ended=run.is_finished,
    ), node_count
