"""Small SVG charts drawn on the server for the dashboard: nothing to download, nothing to run.

Two pictures per flow: runs per time bucket stacked by status (in the run page's state colours),
and the p50/p95 durations of succeeded runs per bucket as two lines. Every text that comes from
data (a flow name in a tooltip) is escaped; colours of axes and labels follow the admin's CSS
variables (classes in ``admin.css``), so the charts work in dark mode too.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from selinon_django.admin.statistics import STATUSES, Bucket
from selinon_django.graph import STATE_COLOURS

WIDTH = 240
HEIGHT = 56
#: room for the largest value's label on the left
LEFT = 30
BOTTOM = 4


def seconds_text(value: float | None) -> str:
    """A duration the way a person reads it: 0.42 s, 12.3 s, 4.5 min, 2.1 h."""
    if value is None:
        return "—"
    if value < 10:
        return f"{value:.2f} s"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def _frame(label: str, top_text: str, body: str, title: str) -> SafeString:
    # every argument is markup built here from escaped parts
    return mark_safe(
        f'<svg class="selinon-chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(label)}"><title>{escape(title)}</title>'
        f'<line class="selinon-chart-axis" x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH}" y2="{HEIGHT - BOTTOM}"/>'
        f'<text class="selinon-chart-text" x="{LEFT - 3}" y="10" text-anchor="end">{escape(top_text)}</text>'
        f"{body}</svg>"
    )


def _bucket_label(bucket: Bucket) -> str:
    return bucket.start.strftime("%Y-%m-%d %H:%M")


def runs_chart(flow_name: str, buckets: Sequence[Bucket]) -> SafeString:
    """Runs created per bucket, one bar per bucket stacked by status (oldest left)."""
    if not buckets:
        return _frame(f"{flow_name}: no runs", "0", "", "no runs")
    peak = max((bucket.total for bucket in buckets), default=0) or 1
    slot = (WIDTH - LEFT) / len(buckets)
    usable = HEIGHT - BOTTOM - 2
    parts: list[str] = []
    for index, bucket in enumerate(buckets):
        x = LEFT + index * slot + 1
        y = float(HEIGHT - BOTTOM)
        tooltip = ", ".join(f"{bucket.counts[s]} {s}" for s in STATUSES if bucket.counts.get(s)) or "no runs"
        parts.append(f'<g class="selinon-chart-bar"><title>{escape(_bucket_label(bucket))}: {escape(tooltip)}</title>')
        for status in STATUSES:
            count = bucket.counts.get(status, 0)
            if not count:
                continue
            height = usable * count / peak
            y -= height
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(slot - 2, 1):.1f}" height="{height:.1f}" '
                f'fill="{STATE_COLOURS.get(status, "#999999")}" data-status="{status}"/>'
            )
        parts.append("</g>")
    total = sum(bucket.total for bucket in buckets)
    return _frame(f"{flow_name}: runs per period", str(peak), "".join(parts), f"{total} runs, at most {peak} per bar")


def durations_chart(flow_name: str, buckets: Sequence[Bucket]) -> SafeString:
    """p50 (solid) and p95 (dashed) durations of succeeded runs per bucket; gaps where none ended."""
    values = [value for bucket in buckets for value in (bucket.p50, bucket.p95) if value is not None]
    if not values:
        return _frame(f"{flow_name}: no durations", "", "", "no succeeded runs in this period")
    peak = max(values) or 1.0
    slot = (WIDTH - LEFT) / len(buckets)
    usable = HEIGHT - BOTTOM - 4

    def line(attribute: str, css: str) -> str:
        segments: list[list[str]] = [[]]
        for index, bucket in enumerate(buckets):
            value = getattr(bucket, attribute)
            if value is None:
                segments.append([])
                continue
            x = LEFT + (index + 0.5) * slot
            y = HEIGHT - BOTTOM - usable * value / peak
            segments[-1].append(f"{x:.1f},{y:.1f}")
        drawn = []
        for points in segments:
            if len(points) == 1:
                cx, cy = points[0].split(",")
                drawn.append(f'<circle class="{css}" cx="{cx}" cy="{cy}" r="1.8"/>')
            elif points:
                drawn.append(f'<polyline class="{css}" fill="none" points="{" ".join(points)}"/>')
        return "".join(drawn)

    dots = []
    for index, bucket in enumerate(buckets):
        if bucket.p50 is None:
            continue
        x = LEFT + index * slot
        dots.append(
            f'<rect class="selinon-chart-hit" x="{x:.1f}" y="0" width="{slot:.1f}" height="{HEIGHT}">'
            f"<title>{escape(_bucket_label(bucket))}: p50 {escape(seconds_text(bucket.p50))}, "
            f"p95 {escape(seconds_text(bucket.p95))}</title></rect>"
        )
    body = line("p95", "selinon-chart-p95") + line("p50", "selinon-chart-p50") + "".join(dots)
    return _frame(f"{flow_name}: durations", seconds_text(peak), body, "p50 (solid) and p95 (dashed) durations")
