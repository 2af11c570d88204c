"""Which nodes of a run will not run, and why: skipped (a condition said no) or not reached.

A node without a node run is not necessarily *pending*. Once every edge into it can no longer
fire, it either was **skipped** (each edge was evaluated with all its sources finished and its
condition was false, or the run's selection left it out, or it is a fallback nothing needed, or
an edge's source was itself skipped) or it was **not reached** (a source failed, or the run
ended before). Until then it is still pending and gets no verdict.

"Finished" here means what the dispatcher has processed (the ``finished_nodes`` of the run's
state), not a node run's row: a task whose row says succeeded but whose flow has not woken yet
has not had its edges evaluated, and its successors must not look skipped in between.

A node can still run while a running node leads to it (through edges, cycles included, or
through a failure to a fallback). Pure: no Django.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from selinon_django.config.model import Flow

SKIPPED = "skipped"
NOT_REACHED = "not reached"


def not_run(
    flow: Flow,
    *,
    finished: Collection[str],
    active: Collection[str],
    instances: Collection[str],
    started: bool,
    ended: bool,
) -> dict[str, str]:
    """``{node name: SKIPPED | NOT_REACHED}`` for the nodes of ``flow`` without a node run that
    can no longer run.

    ``finished``: names with an instance the dispatcher processed as succeeded; ``active``: names
    with an instance still running (or failed and not yet handled); ``instances``: names with
    any node run; ``started``: the run made its first step (its starting edges were evaluated);
    ``ended``: the run is over (nothing can run any more).
    """
    names = set(flow.ordered_nodes())
    incoming: dict[str, list[tuple[str, ...]]] = {name: [] for name in names}
    for edge in flow.edges:
        for target in edge.to:
            incoming.setdefault(target, []).append(tuple(edge.from_))
    fallbacks = {
        name for failure in flow.failures if failure.fallback is not True for name in failure.fallback
    }

    settled = _settled(flow, names, active=set(active), started=started, ended=ended)
    verdicts: dict[str, str] = {}
    finished_set = set(finished)
    undecided = [name for name in flow.ordered_nodes() if name not in instances and name in settled]
    changed = True
    while changed:  # a node is skipped when its sources are: resolve in as many passes as needed
        changed = False
        for name in undecided:
            if name in verdicts:
                continue
            verdict = _verdict(incoming.get(name, []), name in fallbacks, finished_set, verdicts, undecided)
            if verdict is not None:
                verdicts[name] = verdict
                changed = True
    for name in undecided:
        verdicts.setdefault(name, NOT_REACHED)
    return verdicts


def _settled(flow: Flow, names: set[str], *, active: set[str], started: bool, ended: bool) -> set[str]:
    """Names that can get no new instance any more: none that a running node can lead to (by
    its edges, or by a failure to its fallbacks), once the starting edges were evaluated."""
    if ended:
        return set(names)
    if not started:
        return set()
    successors: dict[str, set[str]] = {}
    for edge in flow.edges:
        for source in edge.from_:
            successors.setdefault(source, set()).update(edge.to)
    for failure in flow.failures:
        if failure.fallback is not True:
            for source in failure.nodes:
                successors.setdefault(source, set()).update(failure.fallback)
    reachable: set[str] = set()
    frontier = list(active)
    while frontier:
        for successor in successors.get(frontier.pop(), ()):
            if successor not in reachable:
                reachable.add(successor)
                frontier.append(successor)
    return names - reachable - set(active)


def _verdict(
    edges: list[tuple[str, ...]], fallback: bool, finished: set[str], verdicts: Mapping[str, str],
    undecided: Collection[str],
) -> str | None:
    """SKIPPED, NOT_REACHED or None (not known yet: a source's own verdict is missing)."""
    if not edges:
        return SKIPPED if fallback else NOT_REACHED
    unknown = False
    for sources in edges:
        if all(source in finished for source in sources):
            continue  # evaluated with every source finished: its condition said no
        if any(verdicts.get(source) == SKIPPED for source in sources):
            continue
        if any(source in undecided and source not in verdicts for source in sources):
            unknown = True
            continue
        return NOT_REACHED  # a source failed, was not reached, or the run ended before it finished
    return None if unknown else SKIPPED
