"""The run page's timeline: one row per node name, whatever the number of instances.

A name with one instance is a bar (light while queued, coloured while running). A name with
many (a foreach of 1,000) is one row too: the span from its first start to its last end, drawn
as how many instances ran at each moment (a small area chart), with its counts and duration
percentiles; the row expands into its instances, a page at a time and sorted, each bar labelled
with its item (:mod:`selinon_django.admin.runinstances`). Nothing is left out without saying so.

Times are seconds from the run's start. Bars carry them (``data-from``/``data-to``, empty while
running) so the page's script can lay them out again as the run grows; the percentages rendered
here are the same layout for the first paint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from selinon_django.admin.nodegroups import NodeGroup
from selinon_django.graph import STATE_COLOURS
from selinon_django.models import FlowRun, NodeRun

#: columns of a group's distribution
BINS = 48
#: the smallest width of a bar, in % of the span (a 1 ms task stays visible)
MIN_WIDTH = 0.4


def seconds(start: datetime, moment: datetime | None) -> float | None:
    return None if moment is None else max(0.0, (moment - start).total_seconds())


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted ``values`` (not empty)."""
    index = min(len(values) - 1, max(0, round(fraction * len(values) + 0.5) - 1))
    return values[index]


@dataclass
class Bar:
    """One node run on the timeline."""

    node: NodeRun
    label: str
    queued_from: float
    run_from: float | None
    to: float | None
    colour: str

    @property
    def duration(self) -> float | None:
        return None if self.run_from is None or self.to is None else self.to - self.run_from


@dataclass
class Row:
    """One node name on the timeline."""

    name: str
    index: int
    count: int
    status: str
    colour: str
    queued_from: float
    run_from: float | None
    to: float | None
    #: the only instance's bar (one instance), else None
    bar: Bar | None
    #: how many instances ran in each of BINS slices of [run_from, to or now] (many instances)
    running: list[int]
    durations: dict[str, float]
    counts_text: str

    @property
    def many(self) -> bool:
        return self.count > 1

    @property
    def length(self) -> float:
        return 0.0 if self.run_from is None or self.to is None else self.to - self.run_from

    def area_path(self) -> str:
        """The distribution as an SVG path in a 0..BINS x 0..20 box (drawn stretched to the row)."""
        peak = max(self.running) if self.running else 0
        if not peak:
            return ""
        points = [f"{i} {20 - 20 * value / peak:.1f} {i + 1} {20 - 20 * value / peak:.1f}"
                  for i, value in enumerate(self.running)]
        return f"M0 20 L{' L'.join(points)} L{len(self.running)} 20 Z"

    @property
    def peak(self) -> int:
        return max(self.running) if self.running else 0


@dataclass
class Timeline:
    start: datetime
    #: seconds from the run's start to its end (or to now while it runs)
    span: float
    rows: list[Row]

    def left(self, value: float | None) -> float:
        return 100.0 * (value or 0.0) / self.span

    def width(self, begin: float | None, end: float | None) -> float:
        if begin is None:
            return 0.0
        return max(MIN_WIDTH, 100.0 * ((self.span if end is None else end) - begin) / self.span)


def run_start(run: FlowRun) -> datetime:
    """Where the timeline begins: the run's creation (its node runs are created after it)."""
    return run.created_at


def bar(node: NodeRun, start: datetime, now: datetime, label: str = "") -> Bar:
    queued = seconds(start, node.sent_at or node.created_at) or 0.0
    running = seconds(start, node.started_at)
    end = node.finished_at or (None if not node.is_finished else node.updated_at)
    return Bar(node=node, label=label or getattr(node, "label", ""), queued_from=queued, run_from=running,
               to=seconds(start, end), colour=STATE_COLOURS.get(node.status, "#999999"))


def _distribution(bars: list[Bar], begin: float, end: float) -> list[int]:
    width = max(end - begin, 1e-6) / BINS
    running = [0] * BINS
    for item in bars:
        if item.run_from is None:
            continue
        stop = end if item.to is None else item.to
        first = min(BINS - 1, int((item.run_from - begin) / width))
        last = min(BINS - 1, int(max(stop - begin, 0.0) / width))
        for index in range(first, last + 1):
            running[index] += 1
    return running


def row(group: NodeGroup, start: datetime, now: datetime) -> Row:
    """The timeline row of one node name (all its instances)."""
    bars = [bar(node, start, now) for node in group.runs]
    run_froms = [item.run_from for item in bars if item.run_from is not None]
    ends = [item.to for item in bars if item.to is not None]
    unfinished = any(item.to is None for item in bars)
    durations = sorted(item.duration for item in bars if item.duration is not None)
    stats: dict[str, Any] = {}
    if durations:
        stats = {"p50": percentile(durations, 0.5), "p95": percentile(durations, 0.95), "max": durations[-1]}
    run_from = min(run_froms) if run_froms else None
    to = None if unfinished or not ends else max(ends)
    running: list[int] = []
    if len(bars) > 1 and run_from is not None:
        running = _distribution(bars, run_from, to if to is not None else seconds(start, now) or 0.0)
    return Row(
        name=group.name, index=group.index, count=len(bars), status=group.status, colour=group.colour,
        queued_from=min(item.queued_from for item in bars), run_from=run_from, to=to,
        bar=bars[0] if len(bars) == 1 else None, running=running, durations=stats, counts_text=group.counts_text,
    )


def timeline(run: FlowRun, groups: list[NodeGroup], *, now: datetime) -> Timeline:
    """Every node name's row, sorted by when it first started (queued names after the rest)."""
    start = run_start(run)
    rows = [row(group, start, now) for group in groups]
    rows.sort(key=lambda item: (item.run_from is None, item.run_from or 0.0, item.queued_from, item.index))
    ends = [item.to for item in rows if item.to is not None]
    end = seconds(start, run.finished_at) if run.finished_at else seconds(start, now)
    span = max([end or 0.0, *ends, 0.001])
    return Timeline(start=start, span=span, rows=rows)
