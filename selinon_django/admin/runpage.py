"""The run page's HTML: its parts for the first paint, the live view's delta, a group's instances
and search results. :mod:`selinon_django.admin.runs` holds the views and their permissions; the
data comes from :mod:`~selinon_django.admin.runview` (the page), :mod:`~.runlive` (a poll),
:mod:`~.runinstances` (a page of instances, search) and :mod:`~.runtree` (a nested run).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import SafeString

from selinon_django.admin.graphs import run_svg
from selinon_django.admin.nodegroups import NodeGroup
from selinon_django.admin.runinstances import InstancePage
from selinon_django.admin.runlive import LiveDelta, format_cursor
from selinon_django.admin.runtimeline import Timeline, bar, row, run_start
from selinon_django.admin.runtree import ancestors, run_tree
from selinon_django.admin.runview import RunSnapshot, pretty_json, svg_id
from selinon_django.engine.skipping import SKIPPED
from selinon_django.graph import STATE_COLOURS
from selinon_django.models import FlowRun, NodeRun

#: the parts of the page a full answer replaces (ids ``selinon-part-<name>``)
PARTS = ("summary", "history", "graph", "tree", "timeline", "nodes", "trace")
#: a legend entry for the nodes a run did not reach (graphviz draws them pale, not in a status colour)
NOT_REACHED_COLOUR = "#f4f4f4"


def graph(snap: RunSnapshot) -> SafeString:
    config = snap.run.revision.system_config()
    if snap.run.flow_name not in config.flows:
        return format_html("<p>{}</p>", "flow not in its revision")
    return run_svg(config, snap.run.flow_name, snap.node_states(), snap.node_attributes(),
                   (snap.run.revision.pk, snap.run.revision.content_hash))


def legend() -> list[tuple[str, str]]:
    return [*STATE_COLOURS.items(), ("not reached", NOT_REACHED_COLOUR)]


def page_context(snap: RunSnapshot, actions: list[tuple[str, str]]) -> dict[str, Any]:
    run = snap.run
    return {
        "snap": snap,
        "run": run,
        "colours": STATE_COLOURS,
        "run_colour": STATE_COLOURS.get(run.status, "#999"),
        "actions": actions,
        "node_args_json": pretty_json(run.node_args),
        "selective_json": pretty_json(run.selective),
        "result_json": pretty_json(run.result),
        "history": snap.history,
        "timeline": snap.timeline,
        "cursor": format_cursor(snap.cursor, snap.trace_cursor),
        "node_count": snap.node_count,
    }


def fragments(request: HttpRequest, snap: RunSnapshot, actions: list[tuple[str, str]]) -> dict[str, str]:
    """Every part of the page (the first paint, and the live view's last answer for a run that ended)."""
    context = page_context(snap, actions)
    context["graph"] = graph(snap)
    context["tree"] = run_tree(snap.run) if snap.children else None
    return {name: render_to_string(f"selinon_django/admin/run_{name}.html", context, request=request)
            for name in PARTS}


def page_extras(run: FlowRun) -> dict[str, Any]:
    """What the page around the parts needs: the breadcrumbs' ancestors and the legend."""
    return {"ancestors": ancestors(run), "legend": legend(), "skipped_colour": STATE_COLOURS.get(SKIPPED)}


def _group_parts(request: HttpRequest, group: NodeGroup, timeline: Timeline, now: Any) -> dict[str, Any]:
    context = {"group": group, "timeline": timeline, "row": row(group, timeline.start, now)}
    return {
        "name": group.name,
        "index": group.index,
        "svg_id": group.svg_id,
        "status": group.status,
        "colour": group.colour,
        "count": len(group.runs),
        "counts_text": group.counts_text,
        "detailed": group.detailed,
        "html": render_to_string("selinon_django/admin/run_group.html", context, request=request),
        "timeline": render_to_string("selinon_django/admin/run_timeline_row.html", context, request=request),
    }


def live(request: HttpRequest, delta: LiveDelta, actions: list[tuple[str, str]], now: Any) -> dict[str, Any]:
    """The JSON of one poll: what changed since the page's cursor (see runlive)."""
    run = delta.run
    start = run_start(run)
    # the bars of this answer are laid out on the run's span now; the page lays out the rest again
    timeline = Timeline(start=start, span=max(delta.elapsed, 0.001), rows=[])
    data: dict[str, Any] = {
        "cursor": delta.cursor,
        "status": run.status,
        "finished": run.is_finished,
        "elapsed": round(delta.elapsed, 3),
        "groups": [_group_parts(request, group, timeline, now) for group in delta.groups],
        "nodes": [_node_row(node, start, now) for node in delta.changed],
        "not_run": {svg_id(delta.order[name]): verdict for name, verdict in delta.not_run.items()
                    if name in delta.order},
    }
    if delta.run_changed:
        context = {"run": run, "run_colour": STATE_COLOURS.get(run.status, "#999"), "actions": actions,
                   "node_count": delta.node_count}
        data["summary"] = render_to_string("selinon_django/admin/run_summary.html", context, request=request)
    if delta.trace:
        data["trace"] = render_to_string("selinon_django/admin/run_trace_rows.html", {"events": delta.trace},
                                         request=request)
    return data


def _node_row(node: NodeRun, start: Any, now: Any) -> list[Any]:
    """``[id, status, colour, attempts, seconds running, from, to]`` of a changed node run."""
    item = bar(node, start, now)
    return [node.id, node.status, item.colour, node.attempts,
            None if item.duration is None else round(item.duration, 3),
            None if item.run_from is None else round(item.run_from, 3),
            None if item.to is None else round(item.to, 3)]


def instances_html(request: HttpRequest, run: FlowRun, page: InstancePage, *, view: str, query: dict[str, str],
                   now: Any) -> str:
    """A page of instances as table rows (the nodes part) or timeline bars (an expanded row)."""
    start = run_start(run)
    bars = [bar(node, start, now, getattr(node, "label", "")) for node in page.nodes]
    for node in page.nodes:
        node.colour = STATE_COLOURS.get(node.status, "#999999")  # type: ignore[attr-defined]
    template = "run_instance_bars" if view == "timeline" else "run_instance_rows"
    return render_to_string(f"selinon_django/admin/{template}.html",
                            {"run": run, "page": page, "bars": bars, "query": query, "colours": STATE_COLOURS},
                            request=request)
