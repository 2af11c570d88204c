"""The instances of one node name a page at a time, and search within a run.

A foreach of 1,000 is one group on the run page; its instances are read here only when someone
opens the group (or its timeline row): a page of :data:`PAGE` rows, sorted, optionally of one
status, each labelled with its item and linked to its node-run page. The page says which rows
of how many it shows. Search looks through the node runs of the run and of its sub-flow runs:
node name, node-run id, status, arguments (a foreach item) and exception text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import DurationField, ExpressionWrapper, F, Q, QuerySet, TextField
from django.db.models.functions import Cast

from selinon_django.admin.runtree import MAX_TREE_RUNS
from selinon_django.admin.runview import light_nodes
from selinon_django.models import FlowRun, NodeRun

PAGE = 50
#: rows of an expanded timeline row per request
TIMELINE_PAGE = 200
MAX_PAGE = 500
#: the orders a person can ask for (the default first)
SORTS = {
    "start": ("started_at", "created_at", "id"),
    "created": ("created_at", "id"),
    "longest": ("-run_length", "created_at", "id"),
    "status": ("status", "created_at", "id"),
}
MAX_QUERY = 200


@dataclass
class InstancePage:
    nodes: list[NodeRun]
    total: int
    offset: int
    limit: int

    @property
    def first(self) -> int:
        return self.offset + 1 if self.nodes else 0

    @property
    def last(self) -> int:
        return self.offset + len(self.nodes)

    @property
    def previous_offset(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset else None

    @property
    def next_offset(self) -> int | None:
        return self.last if self.last < self.total else None


def _sorted(queryset: QuerySet[NodeRun], sort: str) -> QuerySet[NodeRun]:
    fields = SORTS.get(sort, SORTS["start"])
    if "-run_length" in fields:
        queryset = queryset.annotate(
            run_length=ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
        )
        return queryset.order_by(F("run_length").desc(nulls_last=True), *fields[1:])
    return queryset.order_by(*(F(name).asc(nulls_last=True) for name in fields))


def _page(queryset: QuerySet[NodeRun], sort: str, offset: int, limit: int) -> InstancePage:
    offset, limit = max(0, offset), max(1, min(limit, MAX_PAGE))
    total = queryset.count()
    nodes = list(_sorted(light_nodes(queryset), sort)[offset:offset + limit])
    return InstancePage(nodes=nodes, total=total, offset=offset, limit=limit)


def label(nodes: list[NodeRun], run: FlowRun, name: str) -> None:
    """Label ``nodes`` (all of ``name`` in ``run``) as the run page does: their foreach item when
    the instances' arguments differ, else their place in creation order (``#3``)."""
    group = NodeRun.objects.filter(flow_run=run, name=name)
    differ = len(group.annotate(args=Cast("node_args", TextField())).values_list("args", flat=True)
                 .order_by().distinct()[:2]) > 1
    positions: dict[str, int] = {}
    if not differ:
        ids = group.order_by("created_at", "id").values_list("id", flat=True)
        positions = {node_id: position for position, node_id in enumerate(ids, start=1)}
    for node in nodes:
        node.label = (getattr(node, "args_text", "") or "") if differ else f"#{positions.get(node.id, 0)}"  # type: ignore[attr-defined]


def instances(run: FlowRun, name: str, *, status: str = "", sort: str = "start", offset: int = 0,
              limit: int = PAGE) -> InstancePage:
    """A page of the instances of ``name`` in ``run`` (of ``status`` if given), labelled."""
    queryset = NodeRun.objects.filter(flow_run=run, name=name)
    if status:
        queryset = queryset.filter(status=status)
    page = _page(queryset, sort, offset, limit)
    label(page.nodes, run, name)
    return page


def tree_ids(run: FlowRun) -> list[str]:
    """``run`` and its sub-flow runs (any depth), at most MAX_TREE_RUNS of them."""
    ids = [run.pk]
    frontier = [run.pk]
    while frontier and len(ids) < MAX_TREE_RUNS:
        frontier = list(FlowRun.objects.filter(parent_run_id__in=frontier).values_list("id", flat=True)[
            : MAX_TREE_RUNS - len(ids)])
        ids.extend(frontier)
    return ids


def search(run: FlowRun, query: str, *, sort: str = "start", offset: int = 0, limit: int = PAGE) -> InstancePage:
    """Node runs of the run's tree whose name, id, status, arguments or exception match ``query``."""
    term = query.strip()[:MAX_QUERY]
    queryset = NodeRun.objects.filter(flow_run_id__in=tree_ids(run)).annotate(
        args_search=Cast("node_args", TextField())
    ).filter(
        Q(name__icontains=term) | Q(id__istartswith=term) | Q(status=term.lower()) | Q(args_search__icontains=term)
        | Q(exception__icontains=term)
    )
    page = _page(queryset.select_related(None), sort, offset, limit)
    for node in page.nodes:
        node.label = getattr(node, "args_text", "") or ""  # type: ignore[attr-defined]
    return page


def parse_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
