"""The grid of one flow, as Airflow draws it: its latest runs across, its nodes down, each cell
coloured by what that node did in that run.

A person scanning for "which node fails, since when" reads a column per run (oldest left, the
newest right) and a row per node (in the order of the flow's edges, as on the graph). A cell
stands for all instances of the node in the run (a foreach is one cell, its counts in the
tooltip) and takes the run page's combined status, so the colours mean the same on both pages.
Two queries whatever the size of the tables: the runs (the ``flow_name, created_at`` index) and
their node runs' statuses counted per run and name (the ``flow_run, name`` index).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count
from django.urls import reverse

from selinon_django.admin.statuses import combined_status
from selinon_django.config.model import SystemConfig
from selinon_django.graph import STATE_COLOURS
from selinon_django.models import ConfigRevision, FlowRun, NodeRun

#: runs across the grid (the newest ones)
GRID_RUNS = 30
MAX_GRID_RUNS = 100


@dataclass(frozen=True)
class Cell:
    status: str
    counts: dict[str, int]

    @property
    def colour(self) -> str:
        return STATE_COLOURS.get(self.status, "#999999")

    @property
    def text(self) -> str:
        return ", ".join(f"{count} {status}" for status, count in sorted(self.counts.items()))


@dataclass
class GridRow:
    name: str
    cells: list[Cell | None]


@dataclass
class Grid:
    flow_name: str
    runs: list[FlowRun]
    rows: list[GridRow]


def node_order(config: SystemConfig | None, flow_name: str) -> list[str]:
    """The flow's node names in the order its edges (then its failures' fallbacks) name them."""
    flow = config.flows.get(flow_name) if config is not None else None
    order: dict[str, None] = {}
    if flow is not None:
        for edge in flow.edges:
            for name in (*edge.from_, *edge.to):
                order.setdefault(name, None)
        for failure in flow.failures:
            for name in (*sorted(failure.nodes), *(() if failure.fallback is True else failure.fallback)):
                order.setdefault(name, None)
    return list(order)


def build_grid(flow_name: str, limit: int = GRID_RUNS) -> Grid:
    runs = list(
        FlowRun.objects.filter(flow_name=flow_name)
        .only("id", "flow_name", "status", "created_at", "started_at", "finished_at", "revision_id")
        .order_by("-created_at")[: max(1, min(limit, MAX_GRID_RUNS))]
    )
    runs.reverse()  # oldest left
    statuses: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    rows = (
        NodeRun.objects.filter(flow_run_id__in=[run.pk for run in runs])
        .order_by()
        .values("flow_run_id", "name", "status")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        statuses[(row["flow_run_id"], row["name"])][row["status"]] = row["n"]
    revision = ConfigRevision.objects.current()
    names = node_order(revision.system_config() if revision is not None else None, flow_name)
    seen = sorted({name for _, name in statuses} - set(names))
    grid_rows = []
    for name in [*names, *seen]:
        cells: list[Cell | None] = []
        for run in runs:
            counts = statuses.get((run.pk, name))
            cells.append(None if counts is None else Cell(combined_status(list(counts)), counts))
        grid_rows.append(GridRow(name, cells))
    for run in runs:
        run.colour = STATE_COLOURS.get(run.status, "#999999")  # type: ignore[attr-defined]
        run.url = reverse("admin:selinon_django_flowrun_change", args=[run.pk])  # type: ignore[attr-defined]
    return Grid(flow_name, runs, grid_rows)
