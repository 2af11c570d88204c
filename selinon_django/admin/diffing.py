"""What changed between two configurations, and the union graph that draws it.

Edges and fallbacks are paired by :mod:`selinon_django.engine.migration_plan` (the rule the
REST API's revision diff and migrations use too): an edge joining the same nodes (from and to as
sets) is the same edge, *changed* when its condition, foreach or selective part differs. Pure
Python: the admin view passes in two loaded configurations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from selinon_django.config.model import Flow, SystemConfig
from selinon_django.engine.migration_plan import Change, EdgeChange, FailureChange, match_edges, match_failures
from selinon_django.graph.digraph import SafeDigraph, label_lines
from selinon_django.graph.labels import condition_lines, edge_lines
from selinon_django.graph.style import Style, merge_style

__all__ = ["DIFF_COLOURS", "ConfigDiff", "EdgeChange", "FailureChange", "FlowDiff", "NamedChanges", "diff_configs",
           "diff_digraph", "diff_flow"]

#: colours of the diff (the legend on the page uses the same ones)
DIFF_COLOURS: dict[str, str] = {"added": "#1b9e3e", "removed": "#d62728", "changed": "#ff8c00"}


@dataclass
class FlowDiff:
    name: str
    change: Change
    nodes_added: list[str] = field(default_factory=list)
    nodes_removed: list[str] = field(default_factory=list)
    edges: list[EdgeChange] = field(default_factory=list)
    failures: list[FailureChange] = field(default_factory=list)
    options_changed: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts = {"added": 0, "removed": 0, "changed": 0}
        changes: list[Change] = [item.change for item in self.edges] + [item.change for item in self.failures]
        for change in changes:
            if change in counts:
                counts[change] += 1
        return counts


@dataclass
class NamedChanges:
    """Tasks or storages: which names appeared, disappeared or changed their definition."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass
class ConfigDiff:
    flows: list[FlowDiff]
    tasks: NamedChanges
    storages: NamedChanges
    global_changed: bool

    @property
    def changed_flows(self) -> list[FlowDiff]:
        return [flow for flow in self.flows if flow.change != "same"]

    @property
    def is_empty(self) -> bool:
        return not (self.changed_flows or self.tasks or self.storages or self.global_changed)


def _named(old: Mapping[str, object], new: Mapping[str, object]) -> NamedChanges:
    return NamedChanges(
        added=sorted(set(new) - set(old)),
        removed=sorted(set(old) - set(new)),
        changed=sorted(name for name in set(old) & set(new) if old[name] != new[name]),
    )


_FLOW_OPTION_FIELDS = ("edges", "failures", "name")


def _flow_options_changed(old: Flow, new: Flow) -> list[str]:
    names = [f.name for f in dataclasses.fields(new) if f.name not in _FLOW_OPTION_FIELDS]
    return sorted(name for name in names if getattr(old, name, None) != getattr(new, name, None))


def diff_flow(name: str, old: Flow | None, new: Flow | None) -> FlowDiff:
    if old is None and new is not None:
        return FlowDiff(
            name,
            "added",
            nodes_added=list(new.ordered_nodes()),
            edges=list(match_edges((), new.edges)),
            failures=list(match_failures((), new.failures)),
        )
    if new is None and old is not None:
        return FlowDiff(
            name,
            "removed",
            nodes_removed=list(old.ordered_nodes()),
            edges=list(match_edges(old.edges, ())),
            failures=list(match_failures(old.failures, ())),
        )
    assert old is not None and new is not None
    old_nodes, new_nodes = list(old.ordered_nodes()), list(new.ordered_nodes())
    diff = FlowDiff(
        name,
        "same",
        nodes_added=[n for n in new_nodes if n not in old_nodes],
        nodes_removed=[n for n in old_nodes if n not in new_nodes],
        edges=list(match_edges(old.edges, new.edges)),
        failures=list(match_failures(old.failures, new.failures)),
        options_changed=_flow_options_changed(old, new),
    )
    if diff.nodes_added or diff.nodes_removed or diff.options_changed or any(diff.counts.values()):
        diff.change = "changed"
    return diff


def diff_configs(old: SystemConfig, new: SystemConfig) -> ConfigDiff:
    names = list(dict.fromkeys([*new.flows, *old.flows]))
    return ConfigDiff(
        flows=[diff_flow(name, old.flows.get(name), new.flows.get(name)) for name in names],
        tasks=_named(old.tasks, new.tasks),
        storages=_named(old.storages, new.storages),
        global_changed=old.global_config != new.global_config,
    )


def _mark(attributes: dict[str, str], change: Change, *, edge: bool = False) -> dict[str, str]:
    if change == "same":
        return attributes
    marked = dict(attributes)
    marked["color"] = DIFF_COLOURS[change]
    marked["penwidth"] = "3"
    if change == "removed":
        marked["style"] = "dashed" if edge else "filled,dashed"
    if change == "added" and edge:
        marked["style"] = "bold"
    return marked


def diff_digraph(
    diff: FlowDiff,
    old: SystemConfig,
    new: SystemConfig,
    style: Style | Mapping[str, Mapping[str, str]] | None = None,
) -> SafeDigraph:
    """Both versions of a flow in one graph: added parts green, removed red, changed orange.

    Names and texts come from uploaded configuration: :class:`SafeDigraph` quotes each of them.
    """
    styles = merge_style(style)
    dot = SafeDigraph(name=diff.name, graph_attr={**styles["graph"], "bgcolor": "transparent"})
    ids: dict[tuple[str, str], str] = {}

    def node_id(kind: str, key: str) -> str:
        return ids.setdefault((kind, key), f"{kind}{len(ids)}")

    new_flow, old_flow = new.flows.get(diff.name), old.flows.get(diff.name)
    new_names = new_flow.ordered_nodes() if new_flow else ()
    names = list(dict.fromkeys([*new_names, *(old_flow.ordered_nodes() if old_flow else ())]))
    for name in names:
        config = new if name in new_names else old
        attributes = dict(styles["flow"] if config.is_flow(name) else styles["task"])
        change: Change = "added" if name in diff.nodes_added else "removed" if name in diff.nodes_removed else "same"
        if diff.change in ("added", "removed"):
            change = diff.change
        dot.node(node_id("node", name), label=label_lines(name), **_mark(attributes, change))

    for position, item in enumerate(diff.edges):
        edge = item.edge
        kind = "condition_foreach" if edge.foreach is not None else "condition"
        lines = edge_lines(edge)
        if item.change == "changed" and item.old is not None:
            lines = ["changed:", *lines, "was:", *edge_lines(item.old)]
        condition_id = node_id("edge", str(position))
        dot.node(condition_id, label=label_lines(*lines), **_mark(dict(styles[kind]), item.change))
        edge_style = _mark(dict(styles["edge"]), item.change if item.change != "changed" else "same", edge=True)
        for source in edge.from_:
            dot.edge(node_id("node", source), condition_id, **edge_style)
        for target in edge.to:
            dot.edge(condition_id, node_id("node", target), **edge_style)

    for position, failure_change in enumerate(diff.failures):
        failure = failure_change.new or failure_change.old
        assert failure is not None
        fallback_style = _mark(dict(styles["fallback_edge"]), failure_change.change, edge=True)
        if failure_change.change == "added":
            fallback_style["color"] = DIFF_COLOURS["added"]
        sources = [node_id("node", name) for name in (failure.nodes_order or tuple(sorted(failure.nodes)))]
        if not failure.condition_default or failure_change.change == "changed":
            lines = condition_lines(failure.condition)
            if failure_change.change == "changed" and failure_change.old is not None:
                lines = ["changed:", *lines, "was:", *condition_lines(failure_change.old.condition)]
            condition_id = node_id("failure", str(position))
            dot.node(condition_id, label=label_lines(*lines), **_mark(dict(styles["condition"]), failure_change.change))
            for source in sources:
                dot.edge(source, condition_id, **fallback_style)
            sources = [condition_id]
        if failure.fallback is True:
            targets = [node_id("fallback_true", str(position))]
            dot.node(targets[0], label=label_lines("True"), **styles["fallback_true"])
        else:
            targets = [node_id("node", name) for name in failure.fallback]
        for source in sources:
            for target in targets:
                dot.edge(source, target, **fallback_style)
    return dot
