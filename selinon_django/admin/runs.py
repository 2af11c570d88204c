"""Flow runs: the list, the run page (live), and the start / cancel / retry / run-again actions.

Every action is a POST behind a confirmation page and its own permission: starting needs
``add_flowrun``; cancelling, retrying and running again need ``change_flowrun``. Nothing about a
run is edited through a form: runs change only through the runtime API.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from selinon_django import run_actions
from selinon_django.admin import bulk, runinstances, runpage
from selinon_django.admin.filters import (
    FlowNameFilter,
    RevisionFilter,
    RunKindFilter,
    StartedBetweenFilter,
    is_default_list,
    shows_top_level_only,
)
from selinon_django.admin.forms import StartFlowForm
from selinon_django.admin.grid import GRID_RUNS, MAX_GRID_RUNS, build_grid
from selinon_django.admin.nul_guard import NulGuardedAdmin
from selinon_django.admin.paging import EstimatedCountPaginator
from selinon_django.admin.runlist import RunChangeList, with_sortable_node_counts
from selinon_django.admin.runlive import live_delta, parse_cursor
from selinon_django.admin.runview import RunSnapshot, run_url, snapshot
from selinon_django.errors import SelinonDjangoError
from selinon_django.graph import STATE_COLOURS
from selinon_django.models import FLOW_FINISHED_STATUSES, ConfigRevision, FlowRun, FlowRunStatus, RunAction
from selinon_django.payloads import PayloadError, parse_bounded_int
from selinon_django.run_actions import Actor

START_PERMISSION = "selinon_django.add_flowrun"
STEER_PERMISSION = "selinon_django.change_flowrun"
#: characters shown in the list's node_args and first-error cells (the full head is the cell's tooltip)
NODE_ARGS_CHARS = 48
ERROR_CHARS = 72
TITLE_CHARS = 400


def compact_json(value: Any) -> str:
    """node_args on one line, keys sorted (``{"name": "django", "version": "5.2"}``)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def status_badge(status: str) -> SafeString:
    return format_html(
        '<span class="selinon-status selinon-status-{}" style="--selinon-state:{}">{}</span>',
        status,
        STATE_COLOURS.get(status, "#999"),
        status,
    )


@admin.register(FlowRun)
class FlowRunAdmin(NulGuardedAdmin, admin.ModelAdmin):
    # Fits 1440 px with the admin's sidebar and the filters open (tests/browser measure it): the
    # revision and the creator share the flow's cell, long texts wrap and are cut after 3 lines,
    # and the parent column comes last and only when sub-flow runs are listed.
    list_display = (
        "short_id",
        "flow_text",
        "status_label",
        "created_text",
        "duration_text",
        "node_total",
        "node_failed",
        "node_args_text",
        "first_error_text",
        "parent_link",
    )
    list_filter = (FlowNameFilter, "status", RevisionFilter, RunKindFilter, StartedBetweenFilter)
    search_fields = ("id", "flow_name", "node_args")
    list_select_related = ("revision", "created_by")
    list_per_page = 50
    show_full_result_count = False
    paginator = EstimatedCountPaginator  # no COUNT(*) of a huge unfiltered table per page
    ordering = ("-created_at",)
    change_list_template = "admin/selinon_django/flowrun/change_list.html"
    actions = ("cancel_selected", "retry_selected")

    class Media:
        css = {"all": ("selinon_django/admin.css",)}

    # --- permissions: runs are never edited or deleted through the admin ---

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def can_start(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(START_PERMISSION))

    def can_steer(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(STEER_PERMISSION))

    # --- list ---

    def get_queryset(self, request: HttpRequest) -> QuerySet[FlowRun]:
        # The node counts are read for the displayed page only (see admin.runlist): annotating
        # them here would join every node run of the table into the page and the paginator's count.
        queryset = super().get_queryset(request).defer("state", "result", "error", "parent", "selective")
        return with_sortable_node_counts(queryset)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[RunChangeList]:
        return RunChangeList

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        # node_args content: its JSON text (icontains casts the JSON to text in SQL)
        return queryset.filter(
            Q(id__istartswith=term) | Q(flow_name__icontains=term) | Q(node_args__icontains=term)
        ), False

    @admin.display(description="run", ordering="id")
    def short_id(self, obj: FlowRun) -> str:
        return obj.id[:8]

    @admin.display(description="status", ordering="status")
    def status_label(self, obj: FlowRun) -> SafeString:
        return status_badge(obj.status)

    @admin.display(description="revision", ordering="revision__number")
    def revision_number(self, obj: FlowRun) -> int:
        return obj.revision.number

    @admin.display(description="parent")
    def parent_link(self, obj: FlowRun) -> SafeString:
        if not obj.parent_run_id:
            return format_html("{}", "—")
        return format_html('<a href="{}">{}</a>', run_url(obj.parent_run_id), obj.parent_run_id[:8])

    @admin.display(description="by")
    def creator(self, obj: FlowRun) -> str:
        return obj.created_by.get_username() if obj.created_by is not None else "—"

    @admin.display(description="duration")
    def duration_text(self, obj: FlowRun) -> str:
        return f"{obj.duration:.2f} s" if obj.duration is not None else "—"

    @admin.display(description="nodes", ordering="node_total")
    def node_total(self, obj: Any) -> int:
        return int(obj.node_total)

    @admin.display(description="failed", ordering="node_failed")
    def node_failed(self, obj: Any) -> int:
        return int(obj.node_failed)

    @admin.display(description="created", ordering="created_at")
    def created_text(self, obj: FlowRun) -> SafeString:
        moment = timezone.localtime(obj.created_at)
        return format_html("{}<br>{}", moment.strftime("%Y-%m-%d"), moment.strftime("%H:%M:%S"))

    @admin.display(description="flow", ordering="flow_name")
    def flow_text(self, obj: FlowRun) -> SafeString:
        creator = f" · by {obj.created_by.get_username()}" if obj.created_by is not None else ""
        return format_html(
            '<span class="selinon-cell-wrap">{}</span><br><span class="selinon-muted">rev {}{}</span>',
            obj.flow_name,
            obj.revision.number,
            creator,
        )

    def get_list_display(self, request: HttpRequest) -> Any:
        """Without the parent column while only top-level runs are listed (it would say "—" on every row)."""
        columns = list(super().get_list_display(request))
        if shows_top_level_only(request):
            columns.remove("parent_link")
        return columns

    @admin.display(description="node_args")
    def node_args_text(self, obj: FlowRun) -> SafeString:
        text = compact_json(obj.node_args)
        return format_html(
            '<span class="selinon-cell-clip" title="{}">{}</span>',
            text[:TITLE_CHARS],
            Truncator(text).chars(NODE_ARGS_CHARS),
        )

    @admin.display(description="first error")
    def first_error_text(self, obj: Any) -> SafeString:
        text = str(getattr(obj, "first_error", ""))
        if not text:
            return format_html("{}", "")
        return format_html(
            '<span class="selinon-cell-clip selinon-error" title="{}">{}</span>',
            text[:TITLE_CHARS],
            Truncator(text).chars(ERROR_CHARS),
        )

    def get_paginator(self, request: HttpRequest, queryset: Any, per_page: int, orphans: int = 0,
                      allow_empty_first_page: bool = True) -> EstimatedCountPaginator:
        """The default list (top-level runs, unfiltered otherwise) is estimated like an unfiltered one."""
        return EstimatedCountPaginator(
            queryset, per_page, orphans, allow_empty_first_page, estimate_filtered=is_default_list(request)
        )

    # --- bulk actions (permission: change_flowrun; a confirmation page first) ---

    @admin.action(description="Cancel selected runs…", permissions=["change"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[FlowRun]) -> HttpResponse | None:
        return bulk.run_bulk_action(
            self, request, queryset, bulk.CANCEL, lambda run_id: run_actions.cancel(admin_actor(request), run_id)
        )

    @admin.action(description="Retry selected runs from their failures…", permissions=["change"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[FlowRun]) -> HttpResponse | None:
        return bulk.run_bulk_action(
            self, request, queryset, bulk.RETRY, lambda run_id: run_actions.retry(admin_actor(request), run_id)
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "can_start": self.can_start(request),
            "start_url": reverse("admin:selinon_django_flowrun_start"),
            "grid_url": reverse("admin:selinon_django_flowrun_grid"),
            "dashboard_url": reverse("admin:selinon_django_rundashboard_changelist"),
            "grid_flow": request.GET.get("flow", ""),
        }
        return super().changelist_view(request, context)

    # --- the run page ---

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("start/", view(self.start_view), name="selinon_django_flowrun_start"),
            path("grid/", view(self.grid_view), name="selinon_django_flowrun_grid"),
            path("<path:object_id>/live/", view(self.live_view), name="selinon_django_flowrun_live"),
            path("<path:object_id>/instances/", view(self.instances_view), name="selinon_django_flowrun_instances"),
            path("<path:object_id>/search/", view(self.search_view), name="selinon_django_flowrun_search"),
            path("<path:object_id>/cancel/", view(self.cancel_view), name="selinon_django_flowrun_cancel"),
            path("<path:object_id>/retry/", view(self.retry_view), name="selinon_django_flowrun_retry"),
            path("<path:object_id>/rerun/", view(self.rerun_view), name="selinon_django_flowrun_rerun"),
            *super().get_urls(),
        ]

    def _run(self, request: HttpRequest, object_id: str) -> FlowRun:
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = (
            FlowRun.objects.select_related("revision", "created_by", "parent_run", "root_run")
            .filter(pk=object_id)
            .first()
        )
        if run is None:
            raise Http404(f"no flow run {object_id}")
        return run

    def _fragments(self, request: HttpRequest, snap: RunSnapshot) -> dict[str, str]:
        return runpage.fragments(request, snap, self._actions(request, snap.run))

    def _actions(self, request: HttpRequest, run: FlowRun) -> list[tuple[str, str]]:
        if not self.can_steer(request):
            return []
        actions: list[tuple[str, str]] = []
        if run.status not in FLOW_FINISHED_STATUSES:
            actions.append(("Cancel", reverse("admin:selinon_django_flowrun_cancel", args=[run.pk])))
        if run.status == FlowRunStatus.FAILED and run.parent_run_id is None:
            actions.append(("Retry from the failure", reverse("admin:selinon_django_flowrun_retry", args=[run.pk])))
        if run.status in FLOW_FINISHED_STATUSES:
            actions.append(("Run again", reverse("admin:selinon_django_flowrun_rerun", args=[run.pk])))
        return actions

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        run = self._run(request, object_id)
        snap = snapshot(run)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": run,
            "title": f"{run.flow_name} run {run.id}",
            "run": run,
            "snap": snap,
            "fragments": self._fragments(request, snap),
            "live_url": reverse("admin:selinon_django_flowrun_live", args=[run.pk]),
            "instances_url": reverse("admin:selinon_django_flowrun_instances", args=[run.pk]),
            "search_url": reverse("admin:selinon_django_flowrun_search", args=[run.pk]),
            "cursor": runpage.page_context(snap, [])["cursor"],
            **runpage.page_extras(run),
            "colours": STATE_COLOURS,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/selinon_django/flowrun/run.html", context)

    def live_view(self, request: HttpRequest, object_id: str) -> JsonResponse:
        """Polled by the run page while the run runs: only what changed since its cursor (see
        admin.runlive); every part of the page when there is no cursor or the run has ended."""
        run = self._run(request, object_id)
        since, trace_id = parse_cursor(request.GET.get("since"))
        now = timezone.now()
        if since is None or run.is_finished:
            snap = snapshot(run)
            return JsonResponse({
                "cursor": runpage.page_context(snap, [])["cursor"], "status": run.status, "finished": run.is_finished,
                "elapsed": round(snap.timeline.span, 3), "fragments": self._fragments(request, snap),
                "groups": [{"name": g.name, "svg_id": g.svg_id, "status": g.status, "colour": g.colour,
                            "count": len(g.runs)} for g in snap.groups],
            })
        return JsonResponse(runpage.live(request, live_delta(run, since, trace_id), self._actions(request, run), now))

    def instances_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A page of one node name's instances: table rows, or timeline bars (``view=timeline``)."""
        run = self._run(request, object_id)
        name = str(request.GET.get("name", ""))[:255]
        view = "timeline" if request.GET.get("view") == "timeline" else "table"
        limit = runinstances.TIMELINE_PAGE if view == "timeline" else runinstances.PAGE
        query = {"name": name, "view": view, "status": str(request.GET.get("status", ""))[:16],
                 "sort": str(request.GET.get("sort", "start"))[:16]}
        page = runinstances.instances(run, name, status=query["status"], sort=query["sort"],
                                      offset=runinstances.parse_int(request.GET.get("offset"), 0), limit=limit)
        return HttpResponse(runpage.instances_html(request, run, page, view=view, query=query, now=timezone.now()))

    def search_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Node runs of the run (and its sub-flow runs) matching ``q``, a page at a time."""
        run = self._run(request, object_id)
        term = str(request.GET.get("q", ""))
        query = {"q": term[: runinstances.MAX_QUERY], "view": "search",
                 "sort": str(request.GET.get("sort", "start"))[:16]}
        page = runinstances.search(run, term, sort=query["sort"],
                                   offset=runinstances.parse_int(request.GET.get("offset"), 0)) if term.strip() else \
            runinstances.InstancePage([], 0, 0, runinstances.PAGE)
        return HttpResponse(runpage.instances_html(request, run, page, view="search", query=query, now=timezone.now()))

    # --- the grid of one flow (runs x nodes) ---

    def grid_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        revision = ConfigRevision.objects.current()
        flow_names = sorted(revision.flows.values_list("name", flat=True)) if revision is not None else []
        flow_name = str(request.GET.get("flow") or (flow_names[0] if flow_names else ""))[:255]
        try:
            limit = parse_bounded_int(str(request.GET.get("runs", GRID_RUNS)), minimum=1, maximum=MAX_GRID_RUNS)
        except PayloadError:
            limit = GRID_RUNS
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Grid: {flow_name}" if flow_name else "Grid",
            "grid": build_grid(flow_name, limit) if flow_name else None,
            "flow_names": flow_names if flow_name in flow_names or not flow_name else [*flow_names, flow_name],
            "flow_name": flow_name,
            "limit": limit,
            "colours": STATE_COLOURS,
        }
        return TemplateResponse(request, "admin/selinon_django/flowrun/grid.html", context)

    # --- actions ---

    def _confirm(self, request: HttpRequest, run: FlowRun, action: str, explanation: str) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{action}: {run.flow_name} run {run.id}?",
            "run": run,
            "action": action,
            "explanation": explanation,
            "run_url": run_url(run.pk),
        }
        return TemplateResponse(request, "admin/selinon_django/flowrun/confirm.html", context)

    def _steer(self, request: HttpRequest, object_id: str) -> FlowRun:
        run = self._run(request, object_id)
        if not self.can_steer(request):
            raise PermissionDenied
        return run

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        run = self._steer(request, object_id)
        if request.method != "POST":
            return self._confirm(
                request, run, "Cancel", "The run and its sub-flows are revoked; running tasks are terminated."
            )
        try:
            revoked = run_actions.cancel(admin_actor(request), run.pk)
        except SelinonDjangoError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Cancelled: {revoked} node run(s) revoked.")
        return HttpResponseRedirect(run_url(run.pk))

    def retry_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        run = self._steer(request, object_id)
        if request.method != "POST":
            return self._confirm(
                request, run, "Retry", "The failed nodes run again; what succeeded is kept. The same run goes on."
            )
        try:
            run_actions.retry(admin_actor(request), run.pk)
        except SelinonDjangoError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, "Retrying from the failed nodes.")
        return HttpResponseRedirect(run_url(run.pk))

    def rerun_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        run = self._steer(request, object_id)
        if request.method != "POST":
            return self._confirm(
                request,
                run,
                "Run again",
                "A new run of the same flow with the same node_args starts on the current revision.",
            )
        try:
            new_id = run_actions.run_again(admin_actor(request), run)
        except SelinonDjangoError as error:
            messages.error(request, str(error))
            return HttpResponseRedirect(run_url(run.pk))
        messages.success(request, f"Started run {new_id}.")
        return HttpResponseRedirect(run_url(new_id))

    def start_view(self, request: HttpRequest) -> HttpResponse:
        if not self.can_start(request):
            raise PermissionDenied
        revision = ConfigRevision.objects.current()
        if revision is None:
            messages.error(request, "No configuration is loaded yet.")
            return HttpResponseRedirect(reverse("admin:selinon_django_flowrun_changelist"))
        config = revision.system_config()
        initial = {"flow_name": request.GET.get("flow", ""), "node_args": request.GET.get("node_args", "{}")}
        form = StartFlowForm(request.POST or None, config=config, initial=initial)
        confirming = False
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            if data["confirmed"]:
                try:
                    run_id = start_run(
                        data["flow_name"],
                        data["node_args"],
                        data["selective_tasks"],
                        follow_subflows=data["follow_subflows"],
                        run_subsequent=data["run_subsequent"],
                        user=request.user,
                    )
                except SelinonDjangoError as error:
                    form.add_error(None, str(error))
                else:
                    messages.success(request, f"Started {data['flow_name']} run {run_id}.")
                    return HttpResponseRedirect(run_url(run_id))
            else:
                confirming = True
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Confirm: start this flow?" if confirming else "Start a flow",
            "form": form,
            "confirming": confirming,
            "revision": revision,
            "node_args_json": form.node_args_json if confirming else "",
        }
        return TemplateResponse(request, "admin/selinon_django/flowrun/start.html", context)


def start_run(
    flow_name: str, node_args: Any, task_names: list[str], *, follow_subflows: bool, run_subsequent: bool, user: Any
) -> str:
    """A plain or selective run on the current revision (the runtime API decides the rest),
    recorded as started by ``user`` through the admin."""
    return run_actions.start(Actor(via=RunAction.Via.ADMIN, user=user), flow_name, node_args, task_names,
                             follow_subflows=follow_subflows, run_subsequent=run_subsequent)


def admin_actor(request: HttpRequest) -> Actor:
    """The person acting through the admin (for the run's audit rows)."""
    return Actor(via=RunAction.Via.ADMIN, user=request.user)
