"""What the runs dashboard counts: runs per flow and status over the last hour/day/week, duration
percentiles over time, what runs now, the latest failures.

Every query is bounded by an index, whatever the size of the run table: the windowed ones are
range scans of ``created_at`` (the ``selinon_flowrun_created`` index) no older than a week, the
running runs come from the partial index of unfinished runs, the latest failures from the partial
index of finished runs (``status, created_at``). On PostgreSQL the series is one grouped query
that computes the percentiles in the database (``percentile_cont`` under ``GROUPING SETS``: per
time bucket and for the whole window at once); other databases (SQLite for a demo) get the same
numbers from the window's rows, aggregated here with the same interpolation.

Durations are those of *succeeded* runs (started to finished): how long a flow takes when it
works; a run that fails at once would pull the median down. The success rate is succeeded over
succeeded + failed: a run someone cancelled is neither.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connections
from django.db.models import Count, Q
from django.utils import timezone

from selinon_django.admin.runlist import attach_first_errors
from selinon_django.models import FLOW_UNFINISHED_STATUSES, FlowRun, FlowRunStatus
from selinon_django.runtime.store import run_store

#: statuses in the order the dashboard lists and stacks them
STATUSES: tuple[str, ...] = tuple(FlowRunStatus.values)
RUNNING_LISTED = 20
FAILURES_LISTED = 10


@dataclass(frozen=True)
class Window:
    """A period the dashboard looks back over, cut into equal buckets for its charts."""

    name: str
    seconds: int
    buckets: int
    #: one bucket, for a person ("runs per hour")
    step_label: str

    @property
    def step(self) -> int:
        return self.seconds // self.buckets

    def start(self, now: datetime) -> datetime:
        """The first bucket's start: ``now`` minus the window, aligned down to a whole step, so a
        bucket keeps its boundaries from one refresh to the next."""
        epoch = math.floor(now.timestamp())
        end = epoch - epoch % self.step + self.step
        return datetime.fromtimestamp(end - self.seconds, tz=now.tzinfo or timezone.get_current_timezone())


WINDOWS: dict[str, Window] = {
    "hour": Window("hour", 3600, 12, "5 minutes"),
    "day": Window("day", 86400, 24, "hour"),
    "week": Window("week", 7 * 86400, 28, "6 hours"),
}
DEFAULT_WINDOW = "day"


def percentile_cont(values: Sequence[float], fraction: float) -> float | None:
    """PostgreSQL's ``percentile_cont``: linear interpolation between the two nearest ranks of the
    sorted ``values`` (None for none)."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


@dataclass
class Bucket:
    """One time bucket of one flow: runs by status, durations of its succeeded runs."""

    start: datetime
    counts: dict[str, int] = field(default_factory=dict)
    p50: float | None = None
    p95: float | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class FlowStats:
    """A flow's line on the dashboard."""

    name: str
    #: window name -> status -> runs created in that window
    counts: dict[str, dict[str, int]] = field(default_factory=lambda: {name: {} for name in WINDOWS})
    running: int = 0
    #: over the chosen window
    p50: float | None = None
    p95: float | None = None
    buckets: list[Bucket] = field(default_factory=list)
    window: str = DEFAULT_WINDOW

    def total(self, window: str) -> int:
        return sum(self.counts[window].values())

    @property
    def success_rate(self) -> float | None:
        """Succeeded / (succeeded + failed) over the chosen window (None when nothing finished)."""
        counts = self.counts[self.window]
        ended = counts.get(FlowRunStatus.SUCCEEDED, 0) + counts.get(FlowRunStatus.FAILED, 0)
        return counts.get(FlowRunStatus.SUCCEEDED, 0) / ended if ended else None


@dataclass
class Dashboard:
    window: Window
    now: datetime
    flows: list[FlowStats]
    running: list[FlowRun]
    running_total: int
    failures: list[FlowRun]


def _window_counts(flows: dict[str, FlowStats], now: datetime) -> None:
    """Runs per flow and status for the three windows: one range scan of the last week."""
    since = {name: now - timedelta(seconds=window.seconds) for name, window in WINDOWS.items()}
    rows = (
        FlowRun.objects.filter(created_at__gte=since["week"])
        .order_by()
        .values("flow_name", "status")
        .annotate(**{name: Count("pk", filter=Q(created_at__gte=start)) for name, start in since.items()})
    )
    for row in rows:
        values: dict[str, Any] = dict(row)
        stats = flows.setdefault(values["flow_name"], FlowStats(values["flow_name"]))
        for name in WINDOWS:
            if values[name]:
                stats.counts[name][values["status"]] = values[name]


#: a row of the series: (flow, bucket or None for the whole window, runs by status, [p50, p95] or [])
SeriesRow = tuple[str, int | None, dict[str, int], list[float]]


def _series_in_database(window: Window, start: datetime) -> Iterable[SeriesRow] | None:
    """(flow, bucket or None for the whole window, counts by status, [p50, p95] or []) as the
    run store aggregates them (PostgreSQL); None when it does not."""
    connection = connections[FlowRun.objects.db]
    rows = run_store(connection).flow_series(start=start, step=window.step, statuses=STATUSES,
                                             succeeded=FlowRunStatus.SUCCEEDED, db=connection)
    if rows is None:
        return None
    series: list[SeriesRow] = []
    for row in rows:
        counts = {status: n for status, n in zip(STATUSES, row[2 : 2 + len(STATUSES)], strict=True) if n}
        percentiles = [float(value) for value in row[-1]] if row[-1] else []
        series.append((row[0], row[1], counts, percentiles))
    return series


def _series_python(window: Window, start: datetime) -> Iterable[SeriesRow]:
    """The same rows as :func:`_series_in_database`, aggregated here from the window's runs."""
    counts: dict[tuple[str, int | None], dict[str, int]] = defaultdict(dict)
    durations: dict[tuple[str, int | None], list[float]] = defaultdict(list)
    rows = FlowRun.objects.filter(created_at__gte=start).values_list(
        "flow_name", "status", "created_at", "started_at", "finished_at"
    )
    for flow_name, status, created_at, started_at, finished_at in rows.iterator(chunk_size=2000):
        bucket: int | None = math.floor((created_at - start).total_seconds() / window.step)
        for key in ((flow_name, bucket), (flow_name, None)):
            counts[key][status] = counts[key].get(status, 0) + 1
            if status == FlowRunStatus.SUCCEEDED and started_at is not None and finished_at is not None:
                durations[key].append((finished_at - started_at).total_seconds())
    for (flow_name, bucket), by_status in counts.items():
        values = durations.get((flow_name, bucket), [])
        percentiles = [percentile_cont(values, 0.5), percentile_cont(values, 0.95)] if values else []
        yield flow_name, bucket, by_status, [p for p in percentiles if p is not None]


def _series(flows: dict[str, FlowStats], window: Window, start: datetime) -> None:
    for stats in flows.values():
        stats.window = window.name
        stats.buckets = [Bucket(start + timedelta(seconds=i * window.step)) for i in range(window.buckets)]
    rows = _series_in_database(window, start)
    if rows is None:
        rows = _series_python(window, start)
    for flow_name, bucket, counts, percentiles in rows:
        stats = flows.setdefault(flow_name, FlowStats(flow_name, window=window.name))
        if not stats.buckets:
            stats.buckets = [Bucket(start + timedelta(seconds=i * window.step)) for i in range(window.buckets)]
        p50, p95 = percentiles if percentiles else (None, None)
        if bucket is None:
            stats.p50, stats.p95 = p50, p95
        elif 0 <= bucket < window.buckets:  # a run created after "now" was read lands outside
            target = stats.buckets[bucket]
            target.counts, target.p50, target.p95 = counts, p50, p95


def _running(flows: dict[str, FlowStats]) -> tuple[list[FlowRun], int]:
    """Unfinished runs (the partial index of unfinished runs holds only them): per flow, and the newest."""
    unfinished = FlowRun.objects.filter(status__in=FLOW_UNFINISHED_STATUSES)
    total = 0
    for row in unfinished.order_by().values("flow_name").annotate(n=Count("pk")):
        flows.setdefault(row["flow_name"], FlowStats(row["flow_name"])).running = row["n"]
        total += row["n"]
    newest = list(
        unfinished.only("id", "flow_name", "status", "parent_run_id", "created_at", "started_at").order_by(
            "-created_at"
        )[:RUNNING_LISTED]
    )
    return newest, total


def latest_failures(limit: int = FAILURES_LISTED) -> list[FlowRun]:
    """The newest failed runs with ``first_error`` attached (the runs list's column)."""
    runs = list(
        FlowRun.objects.filter(status=FlowRunStatus.FAILED)
        .only("id", "flow_name", "status", "parent_run_id", "created_at", "finished_at")
        .order_by("-created_at")[:limit]
    )
    attach_first_errors(runs)
    return runs


def dashboard(
    window_name: str = DEFAULT_WINDOW, flow_names: Iterable[str] = (), now: datetime | None = None
) -> Dashboard:
    """Everything the dashboard shows; ``flow_names`` (the current revision's flows) are listed
    even when they have no runs."""
    now = now or timezone.now()
    window = WINDOWS.get(window_name, WINDOWS[DEFAULT_WINDOW])
    flows: dict[str, FlowStats] = {name: FlowStats(name) for name in flow_names}
    _window_counts(flows, now)
    _series(flows, window, window.start(now))
    running, running_total = _running(flows)
    ordered = sorted(flows.values(), key=lambda stats: (-stats.total("week") - stats.running, stats.name))
    return Dashboard(window, now, ordered, running, running_total, latest_failures())
