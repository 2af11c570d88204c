"""Working out a selective run: which edges must fire to reach the requested tasks.

A selective run starts only what the requested tasks (the *targets*) need. The plan is computed
once, when the run starts, and then followed by every dispatcher step of the flow and of the
sub-flows it reaches (see :mod:`selinon_django.engine.selective_plan` for how it is followed).

How a flow's part of the plan is found
--------------------------------------

1. *Startable* nodes are found forwards: a starting edge's destinations are startable, and so
   are the destinations of an edge whose sources are all startable. Conditions are ignored
   (they are evaluated when the run happens), fallbacks are not edges (a path "via failure
   edges" does not count, as documented).
2. *Needed* nodes are found backwards from the flow's seeds: every edge that has a needed node
   among its destinations and only startable sources must fire for that destination, and its
   sources become needed too. This is the union of every path to every target, so several
   paths are all included, and an edge that closes a cycle on the way is included as well
   (the documented "cyclic edge is always included").

The seeds of a flow are the targets it can start and, with ``follow_subflows``, the sub-flow
nodes whose flow (transitively) reaches a target. Each flow on such a chain gets its own part
of the plan; a sub-flow that reaches no target runs in full when the plan starts it.

``run_subsequent`` adds, per flow of the plan, every edge downstream of the seeds: an edge fires
in full when one of its sources is a seed or downstream of one and all its sources will run
(started by the plan or downstream). Selinon asks for *all* sources to be downstream, which
drops a join between a target and one of its own prerequisites; here such a join runs, which
is what "run the tasks that depend on the requested ones" means.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from selinon_django.config.model import Edge, Flow, SystemConfig
from selinon_django.engine.selective_plan import FlowPlan, SelectivePlan
from selinon_django.errors import SelectiveNoPathError, UnknownFlowError

__all__ = ["compute_selective", "plan_for_selective_edge", "startable_nodes"]


def startable_nodes(flow: Flow) -> frozenset[str]:
    """Nodes of ``flow`` that some chain of edges from a starting edge can start."""
    startable: set[str] = set()
    changed = True
    while changed:
        changed = False
        for edge in flow.edges:
            if all(source in startable for source in edge.from_):
                new = set(edge.to) - startable
                if new:
                    startable |= new
                    changed = True
    return frozenset(startable)


def _reachable_flows(config: SystemConfig, flow_name: str) -> list[str]:
    """``flow_name`` and every flow it can start, transitively (recursion included once)."""
    seen = [flow_name]
    index = 0
    while index < len(seen):
        for edge in config.flows[seen[index]].edges:
            for node in edge.to:
                if node in config.flows and node not in seen:
                    seen.append(node)
        index += 1
    return seen


def _seeds(
    config: SystemConfig,
    flows: Sequence[str],
    targets: frozenset[str],
    follow_subflows: bool,
) -> dict[str, frozenset[str]]:
    """Per flow, the nodes the plan aims at: targets it can start, sub-flows reaching a target.

    A fixpoint, because whether a sub-flow reaches a target can depend on its own sub-flows
    (and a recursive flow on itself).
    """
    startable = {name: startable_nodes(config.flows[name]) for name in flows}
    seeds: dict[str, frozenset[str]] = {name: startable[name] & targets for name in flows}
    if not follow_subflows:
        return seeds
    changed = True
    while changed:
        changed = False
        for name in flows:
            via_subflows = {node for node in startable[name] if node in config.flows and seeds.get(node)}
            grown = seeds[name] | via_subflows
            if grown != seeds[name]:
                seeds[name] = grown
                changed = True
    return seeds


def _needed_edges(flow: Flow, seeds: Iterable[str]) -> dict[int, set[str]]:
    """Backwards from ``seeds``: edge index -> the destinations the plan starts through it."""
    startable = startable_nodes(flow)
    firing: dict[int, set[str]] = {}
    needed: set[str] = set()
    pending = list(seeds)
    while pending:
        node = pending.pop()
        if node in needed:
            continue
        needed.add(node)
        for edge in flow.edges:
            if node in edge.to and all(source in startable for source in edge.from_):
                firing.setdefault(edge.index, set()).add(node)
                pending.extend(edge.from_)
    return firing


def _subsequent_edges(flow: Flow, seeds: Iterable[str], started: Iterable[str]) -> frozenset[int]:
    """Edges downstream of ``seeds`` (see the module docstring), fired in full."""
    downstream = set(seeds)
    will_run = set(started) | downstream
    edges: set[int] = set()
    changed = True
    while changed:
        changed = False
        for edge in flow.edges:
            if edge.index in edges or not edge.from_:
                continue
            if downstream.intersection(edge.from_) and will_run.issuperset(edge.from_):
                edges.add(edge.index)
                downstream.update(edge.to)
                will_run.update(edge.to)
                changed = True
    return frozenset(edges)


def _flow_plan(flow: Flow, firing: Mapping[int, set[str]], subsequent: frozenset[int]) -> FlowPlan:
    by_index = {edge.index: edge for edge in flow.edges}
    edges = {
        # destinations in the edge's order, repeated as often as the edge lists them
        index: tuple(node for node in by_index[index].to if node in names)
        for index, names in sorted(firing.items())
        # an edge that fires in full as a subsequent edge is listed there only
        if index not in subsequent
    }
    return FlowPlan(edges=MappingProxyType(edges), subsequent_edges=subsequent)


def compute_selective(
    config: SystemConfig,
    flow_name: str,
    task_names: Iterable[str],
    follow_subflows: bool = False,
    run_subsequent: bool = False,
) -> SelectivePlan:
    """The plan of a selective run of ``flow_name`` aimed at ``task_names``.

    Raises :class:`UnknownFlowError` for a flow the configuration does not define,
    :class:`SelectiveNoPathError` when a requested task is reached by no path (in ``flow_name``,
    or with ``follow_subflows`` in any sub-flow it starts), and ``ValueError`` when no task is
    requested.
    """
    if flow_name not in config.flows:
        raise UnknownFlowError(flow_name)
    targets_in_order = tuple(dict.fromkeys(task_names))
    if not targets_in_order:
        raise ValueError("a selective run needs at least one task name")
    targets = frozenset(targets_in_order)

    candidates = _reachable_flows(config, flow_name) if follow_subflows else [flow_name]
    seeds = _seeds(config, candidates, targets, follow_subflows)

    # Only flows actually started on the way: the top flow and sub-flows that are seeds.
    included: list[str] = []
    pending = [flow_name]
    while pending:
        name = pending.pop(0)
        if name in included or not seeds.get(name):
            continue
        included.append(name)
        if follow_subflows:
            pending.extend(node for node in seeds[name] if node in config.flows)

    reached = set().union(*(seeds[name] & targets for name in included)) if included else set()
    missing = [name for name in targets_in_order if name not in reached]
    if missing:
        where = f"flow {flow_name!r}" + (" or its sub-flows" if follow_subflows else "")
        raise SelectiveNoPathError(f"no path to {', '.join(map(repr, missing))} in {where}")

    plans: dict[str, FlowPlan] = {}
    for name in included:
        flow = config.flows[name]
        firing = _needed_edges(flow, seeds[name])
        subsequent: frozenset[int] = frozenset()
        if run_subsequent:
            started = set().union(*firing.values()) if firing else set()
            subsequent = _subsequent_edges(flow, seeds[name], started)
        plans[name] = _flow_plan(flow, firing, subsequent)

    return SelectivePlan(
        task_names=targets_in_order,
        follow_subflows=follow_subflows,
        run_subsequent=run_subsequent,
        flows=MappingProxyType(plans),
    )


def plan_for_selective_edge(config: SystemConfig, edge: Edge) -> SelectivePlan:
    """The plan an edge-level ``selective:`` gives the single sub-flow the edge starts.

    The sub-flow is started as a selective run of its own (its plan is independent of any plan
    the parent flow follows). Raises ``ValueError`` for an edge without ``selective`` or not
    leading to exactly one sub-flow (the loader refuses such configurations already), and
    :class:`SelectiveNoPathError` when the listed tasks cannot be reached.
    """
    if edge.selective is None:
        raise ValueError(f"edge {edge.index} has no 'selective' section")
    if len(edge.to) != 1 or edge.to[0] not in config.flows:
        raise ValueError(f"edge {edge.index}: 'selective' is allowed only on an edge to one sub-flow")
    return compute_selective(
        config,
        edge.to[0],
        edge.selective.tasks,
        follow_subflows=edge.selective.follow_subflows,
        run_subsequent=edge.selective.run_subsequent,
    )
