"""A nested run on one page: its ancestors (breadcrumbs that skip no level) and its tree.

The tree is what ``selinon_run --wait`` prints (:func:`selinon_django.runtime.report.format_tree`):
the run, its nodes, and under each sub-flow node the sub-flow's run with its own nodes, to any
depth. Instances of a name are one line with their counts (a foreach of 1,000 is one line), and
the sub-flow runs of a name are listed under it. Built from one query per depth for the runs and
one aggregate for their nodes; a tree bigger than :data:`MAX_TREE_RUNS` runs says how many runs
it leaves out and where to find them, rather than drawing thousands.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Min

from selinon_django.admin.nodegroups import combined_status
from selinon_django.graph import STATE_COLOURS
from selinon_django.models import FlowRun, NodeRun

#: runs drawn in one tree (deeper or wider runs are counted, not drawn)
MAX_TREE_RUNS = 300
#: ancestors followed for the breadcrumbs (a deeper chain shows an ellipsis at the top)
MAX_DEPTH = 64
_RUN_FIELDS = ("id", "flow_name", "status", "parent_run_id", "parent_node_id", "created_at")


@dataclass
class TreeGroup:
    name: str
    kind: str
    counts: dict[str, int]
    children: list[TreeRun] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    @property
    def status(self) -> str:
        return combined_status(list(self.counts))

    @property
    def colour(self) -> str:
        return STATE_COLOURS.get(self.status, "#999999")

    @property
    def counts_text(self) -> str:
        return ", ".join(f"{count} {status}" for status, count in sorted(self.counts.items()))


@dataclass
class TreeRun:
    run: FlowRun
    groups: list[TreeGroup] = field(default_factory=list)

    @property
    def colour(self) -> str:
        return STATE_COLOURS.get(self.run.status, "#999999")


@dataclass
class RunTree:
    root: TreeRun
    runs: int
    #: sub-flow runs below the drawn ones that are not drawn (0: the whole tree is there)
    left_out: int = 0


def ancestors(run: FlowRun) -> list[FlowRun]:
    """The runs above ``run``, top-level first (one query per level)."""
    chain: list[FlowRun] = []
    parent_id = run.parent_run_id
    while parent_id and len(chain) < MAX_DEPTH:
        parent = FlowRun.objects.filter(pk=parent_id).only("id", "flow_name", "status", "parent_run_id").first()
        if parent is None:
            break
        chain.append(parent)
        parent_id = parent.parent_run_id
    chain.reverse()
    return chain


def run_tree(run: FlowRun) -> RunTree | None:
    """The tree under ``run``; None when it has no sub-flow run (the page shows its nodes)."""
    runs: dict[str, FlowRun] = {run.pk: run}
    frontier = [run.pk]
    left_out = 0
    while frontier:
        budget = MAX_TREE_RUNS - len(runs)
        children = list(
            FlowRun.objects.filter(parent_run_id__in=frontier).only(*_RUN_FIELDS).order_by("created_at", "id")[
                : max(budget, 0) + 1
            ]
        )
        if len(children) > budget:
            children = children[:budget]
            left_out = _count_below(frontier) - budget
        for child in children:
            runs[child.pk] = child
        frontier = [child.pk for child in children] if not left_out else []
    if len(runs) == 1:
        return None
    nodes: dict[str, TreeRun] = {pk: TreeRun(item) for pk, item in runs.items()}
    groups: dict[str, dict[str, TreeGroup]] = defaultdict(dict)
    firsts: dict[tuple[str, str], datetime] = {}
    for row in (
        NodeRun.objects.filter(flow_run_id__in=list(runs)).values("flow_run_id", "name", "kind", "status")
        .annotate(n=Count("id"), first=Min("created_at")).order_by()
    ):
        key = (row["flow_run_id"], row["name"])
        group = groups[row["flow_run_id"]].setdefault(row["name"], TreeGroup(row["name"], row["kind"], {}))
        group.counts[row["status"]] = row["n"]
        firsts[key] = min(row["first"], firsts.get(key, row["first"]))
    for pk, item in runs.items():
        if pk != run.pk and item.parent_run_id in nodes:
            siblings = groups[str(item.parent_run_id)]
            # (a child whose node row is missing is still shown)
            parent_group = siblings.setdefault(item.flow_name, TreeGroup(item.flow_name, "flow", {}))
            parent_group.children.append(nodes[pk])
    for pk, tree_run in nodes.items():
        # in the order their first node run was created (an aggregate's order is no order)
        tree_run.groups = sorted(groups[pk].values(), key=lambda group: (firsts.get((pk, group.name)) is None,
                                                                        firsts.get((pk, group.name)), group.name))
    return RunTree(root=nodes[run.pk], runs=len(runs), left_out=max(left_out, 0))


def _count_below(frontier: list[str]) -> int:
    """How many runs are below ``frontier`` (any depth; one query per level)."""
    total = 0
    level = frontier
    while level:
        level = list(FlowRun.objects.filter(parent_run_id__in=level).values_list("id", flat=True))
        total += len(level)
    return total
