"""A flow as a graphviz digraph, drawn the way Selinon's ``plot`` draws it.

Tasks and sub-flows are nodes; every edge of the flow gets its own condition node (an octagon,
a double octagon for foreach) so that which condition guards which transition is visible;
storages hang off the tasks that write to them; fallbacks are red edges from the failing nodes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from selinon_django.config.model import SystemConfig
from selinon_django.graph.digraph import SafeDigraph, label_lines
from selinon_django.graph.labels import condition_lines, edge_lines
from selinon_django.graph.style import Style, merge_style

#: fill colours of a node run's status when a graph shows a run (flow and node statuses)
STATE_COLOURS: dict[str, str] = {
    "pending": "#d9d9d9",
    "sent": "#bcd4e6",
    "received": "#9ec5e8",
    "started": "#f5d76e",
    "running": "#f5d76e",
    "retried": "#f0a35e",
    "retrying": "#f0a35e",
    "succeeded": "#5cb85c",
    "failed": "#d9534f",
    "revoked": "#7f7f7f",
    # not a node-run status: a node the run will not start (an edge condition was false); drawn dashed
    "skipped": "#f2c4de",
}

#: nodes a run never reached, when node states are shown
_NOT_REACHED = {"fillcolor": "#f4f4f4", "fontcolor": "#7f7f7f", "color": "#b0b0b0"}


class UnknownFlowGraphError(KeyError):
    """The configuration has no flow of that name."""


class _Ids:
    """Stable node ids made up here (``node0``, ``edge1``): names never become DOT ids."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], str] = {}

    def __call__(self, kind: str, name: str) -> str:
        key = (kind, name)
        if key not in self._ids:
            self._ids[key] = f"{kind}{len(self._ids)}"
        return self._ids[key]


def flow_digraph(
    config: SystemConfig,
    flow_name: str,
    style: Style | Mapping[str, Mapping[str, str]] | None = None,
    node_states: Mapping[str, str] | None = None,
    node_attributes: Mapping[str, Mapping[str, str]] | None = None,
) -> SafeDigraph:
    """The graph of ``flow_name``; ``node_states`` ({node name: status}) colours a run onto it.

    ``node_attributes`` ({node name: {attribute: value}}) adds graphviz attributes per task or
    sub-flow node, for example an SVG ``id`` a page's script can find, or an ``xlabel``. Every
    name, text and attribute value goes through :class:`SafeDigraph`, which quotes it as text.
    """
    try:
        flow = config.flows[flow_name]
    except KeyError:
        known = ", ".join(sorted(config.flows)) or "none"
        raise UnknownFlowGraphError(f"unknown flow {flow_name!r} (flows: {known})") from None
    # Merging is idempotent, so a style already merged by load_style() can be passed as well.
    styles = merge_style(style)
    ids = _Ids()
    dot = SafeDigraph(name=flow_name, graph_attr=dict(styles["graph"]))

    for name in flow.ordered_nodes():
        attributes = dict(styles["flow"] if config.is_flow(name) else styles["task"])
        if node_states is not None:
            state = node_states.get(name)
            if state is None:
                attributes.update(_NOT_REACHED)
            elif state in STATE_COLOURS:
                attributes["fillcolor"] = STATE_COLOURS[state]
        if node_attributes is not None:
            attributes.update(node_attributes.get(name, {}))
        dot.node(ids("node", name), label=label_lines(name), **attributes)

    for edge in flow.edges:
        kind = "condition_foreach" if edge.foreach is not None else "condition"
        condition_id = ids("edge", str(edge.index))
        dot.node(condition_id, label=label_lines(*edge_lines(edge)), **styles[kind])
        for source in edge.from_:
            dot.edge(ids("node", source), condition_id, **styles["edge"])
        for target in edge.to:
            dot.edge(condition_id, ids("node", target), **styles["edge"])

    for index, failure in enumerate(flow.failures):
        failed = failure.nodes_order or tuple(sorted(failure.nodes))
        sources: Iterable[str] = [ids("node", name) for name in failed]
        if not failure.condition_default:
            condition_id = ids("failure", str(index))
            dot.node(condition_id, label=label_lines(*condition_lines(failure.condition)), **styles["condition"])
            for source in sources:
                dot.edge(source, condition_id, **styles["fallback_edge"])
            sources = [condition_id]
        if failure.fallback is True:
            targets = [ids("fallback_true", str(index))]
            dot.node(targets[0], label=label_lines("True"), **styles["fallback_true"])
        else:
            targets = [ids("node", name) for name in failure.fallback]
        for source in sources:
            for target in targets:
                dot.edge(source, target, **styles["fallback_edge"])

    drawn_storages: set[str] = set()
    for name in flow.ordered_nodes():
        task = config.tasks.get(name)
        if task is None or task.storage is None:
            continue
        storage_id = ids("storage", task.storage)
        if task.storage not in drawn_storages:
            drawn_storages.add(task.storage)
            dot.node(storage_id, label=label_lines(task.storage), **styles["storage"])
        dot.edge(ids("node", name), storage_id, **styles["store_edge"])
    return dot
