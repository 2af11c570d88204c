"""The runs dashboard: the admin index's "Dashboard" entry (the :class:`RunDashboard` proxy).

Per flow: runs of the last hour/day/week by status, the success rate, p50/p95 durations and two
small charts over the chosen window, how many run now and a link to the flow's grid; below, the
runs running now and the latest failures with their first error line. The three parts refresh
themselves (``dashboard_live.js`` polls ``live/`` every few seconds while the tab is visible);
the numbers come from :mod:`selinon_django.admin.statistics`, the pictures from
:mod:`selinon_django.admin.charts`. Seeing it needs ``view_flowrun``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from selinon_django.admin.charts import durations_chart, runs_chart, seconds_text
from selinon_django.admin.statistics import DEFAULT_WINDOW, STATUSES, WINDOWS, Dashboard, dashboard
from selinon_django.graph import STATE_COLOURS
from selinon_django.models import ConfigRevision, RunDashboard

VIEW_RUNS = "selinon_django.view_flowrun"
#: milliseconds between two refreshes of the lists
REFRESH_MS = 5000
PARTS = ("flows", "running", "failures")


def _status_counts(counts: dict[str, int]) -> list[tuple[str, int, str]]:
    """(status, runs, colour) for the statuses that have runs, in the dashboard's order."""
    return [(status, counts[status], STATE_COLOURS.get(status, "#999999")) for status in STATUSES if counts.get(status)]


def _flow_rows(board: Dashboard) -> list[dict[str, Any]]:
    rows = []
    for stats in board.flows:
        rate = stats.success_rate
        rows.append(
            {
                "stats": stats,
                "windows": [
                    (name, stats.total(name), _status_counts(stats.counts[name]))
                    for name in WINDOWS
                ],
                "rate": None if rate is None else f"{100 * rate:.1f} %",
                "p50": seconds_text(stats.p50),
                "p95": seconds_text(stats.p95),
                "runs_chart": runs_chart(stats.name, stats.buckets),
                "durations_chart": durations_chart(stats.name, stats.buckets),
            }
        )
    return rows


@admin.register(RunDashboard)
class RunDashboardAdmin(admin.ModelAdmin):
    """No list and no forms: the changelist URL serves the dashboard."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(VIEW_RUNS))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm(VIEW_RUNS))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("", view(self.changelist_view), name="selinon_django_rundashboard_changelist"),
            path("live/", view(self.live_view), name="selinon_django_rundashboard_live"),
        ]

    def _board(self, request: HttpRequest) -> tuple[Dashboard, str]:
        if not self.has_view_permission(request):
            raise PermissionDenied
        window = str(request.GET.get("window", DEFAULT_WINDOW))
        window = window if window in WINDOWS else DEFAULT_WINDOW
        revision = ConfigRevision.objects.current()
        names = list(revision.flows.values_list("name", flat=True)) if revision is not None else []
        return dashboard(window, names), window

    def _parts(self, request: HttpRequest, board: Dashboard) -> dict[str, str]:
        context = {
            "board": board,
            "rows": _flow_rows(board),
            "colours": STATE_COLOURS,
            "windows": list(WINDOWS),
            "grid_url": reverse("admin:selinon_django_flowrun_grid"),
            "runs_url": reverse("admin:selinon_django_flowrun_changelist"),
        }
        return {
            name: render_to_string(f"selinon_django/admin/dashboard_{name}.html", context, request=request)
            for name in PARTS
        }

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        board, window = self._board(request)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Dashboard",
            "board": board,
            "window": window,
            "windows": list(WINDOWS),
            "parts": self._parts(request, board),
            "live_url": f"{reverse('admin:selinon_django_rundashboard_live')}?window={window}",
            "refresh_ms": REFRESH_MS,
            "colours": {status: STATE_COLOURS.get(status, "#999999") for status in STATUSES},
        }
        return TemplateResponse(request, "admin/selinon_django/dashboard.html", context)

    def live_view(self, request: HttpRequest) -> JsonResponse:
        board, _ = self._board(request)
        return JsonResponse({"now": board.now.isoformat(), "parts": self._parts(request, board)})
