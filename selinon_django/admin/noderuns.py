"""Node runs across all flow runs: a read-only list to find a task instance by id, status or name.

The run page shows a run's nodes in context; this list answers the other question ("which
``ParseTask`` instances failed today?") and links each row to its run page. Rows are written
only by the runtime, so nothing here edits them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, JsonResponse
from django.template.loader import render_to_string
from django.urls import URLPattern, path
from django.utils.html import format_html
from django.utils.safestring import SafeString

from selinon_django.admin import task_logs
from selinon_django.admin.paging import EstimatedCountPaginator
from selinon_django.admin.readonly import ReadOnlyAdmin
from selinon_django.admin.runs import status_badge
from selinon_django.admin.runview import pretty_json, run_url
from selinon_django.models import FlowRun, NodeKind, NodeRun

#: who may read a run's logs (the run page's permission; the node-run page's is its own)
VIEW_RUNS = ("selinon_django.view_flowrun", "selinon_django.change_flowrun")

#: columns the list never shows: left out of its query (results and tracebacks can be large)
_HEAVY = ("parent", "node_args", "result", "traceback", "flow_run__state", "flow_run__node_args",
          "flow_run__result", "flow_run__error", "flow_run__parent", "flow_run__selective")


class NodeNameFilter(admin.SimpleListFilter):
    title = "name"
    parameter_name = "name"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        names = NodeRun.objects.order_by("name").values_list("name", flat=True).distinct()
        return [(name, name) for name in names]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(name=self.value()) if self.value() else queryset


@admin.register(NodeRun)
class NodeRunAdmin(ReadOnlyAdmin):
    list_display = ("short_id", "name", "kind", "status_label", "run_link", "flow_name", "attempts", "worker",
                    "created_at", "duration_text")
    list_filter = ("status", "kind", NodeNameFilter)
    search_fields = ("^id", "^flow_run__id")
    search_help_text = "The start of a node run's id (a Celery task id) or of its flow run's id."
    list_select_related = ("flow_run",)
    list_per_page = 50
    show_full_result_count = False
    paginator = EstimatedCountPaginator  # no COUNT(*) of a huge unfiltered table per page
    ordering = ("-created_at",)
    fields = ("id", "name", "kind", "status_label", "run_link", "flow_name", "attempts", "worker", "carried_by",
              "is_fallback", "is_nowait", "times", "parent_json", "node_args_json", "result_text", "exception",
              "traceback_text", "log")
    readonly_fields = fields

    class Media:
        css = {"all": ("selinon_django/admin.css", "selinon_django/task_logs.css")}
        js = ("selinon_django/task_logs.js",)

    # --- the log's live JSON (the run page's panel polls the run's, a node-run page its node's) ---

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("logs/run/<path:run_id>/", view(self.run_logs_view), name="selinon_django_noderun_run_logs"),
            path("<path:object_id>/logs/", view(self.logs_view), name="selinon_django_noderun_logs"),
            *super().get_urls(),
        ]

    def run_logs_view(self, request: HttpRequest, run_id: str) -> JsonResponse:
        if not any(request.user.has_perm(perm) for perm in VIEW_RUNS):
            raise PermissionDenied
        run = FlowRun.objects.filter(pk=run_id).only("id", "status").first()
        if run is None:
            raise Http404(f"no flow run {run_id}")
        return task_logs.run_logs_json(request, run)

    def logs_view(self, request: HttpRequest, object_id: str) -> JsonResponse:
        if not (self.has_view_permission(request) or any(request.user.has_perm(perm) for perm in VIEW_RUNS)):
            raise PermissionDenied
        node = NodeRun.objects.filter(pk=object_id).only("id", "status", "kind").first()
        if node is None:
            raise Http404(f"no node run {object_id}")
        return task_logs.node_logs_json(request, node)

    def get_queryset(self, request: HttpRequest) -> QuerySet[NodeRun]:
        queryset = super().get_queryset(request).select_related("flow_run")
        if str(getattr(request.resolver_match, "url_name", "")).endswith("_changelist"):
            queryset = queryset.defer(*_HEAVY)
        return queryset

    @admin.display(description="node run", ordering="id")
    def short_id(self, obj: NodeRun) -> str:
        return obj.id[:8]

    @admin.display(description="status", ordering="status")
    def status_label(self, obj: NodeRun) -> SafeString:
        return status_badge(obj.status)

    @admin.display(description="flow run", ordering="flow_run_id")
    def run_link(self, obj: NodeRun) -> SafeString:
        link = format_html('<a href="{}">{}</a>', run_url(obj.flow_run_id), obj.flow_run_id[:8])
        if obj.kind == NodeKind.FLOW:  # a sub-flow node's id is its own run's id
            return format_html('{} (<a href="{}">sub-flow run</a>)', link, run_url(obj.id))
        return link

    @admin.display(description="flow", ordering="flow_run__flow_name")
    def flow_name(self, obj: NodeRun) -> str:
        return obj.flow_run.flow_name

    @admin.display(description="duration")
    def duration_text(self, obj: NodeRun) -> str:
        return f"{obj.duration:.3f} s" if obj.duration is not None else "—"

    @admin.display(description="times")
    def times(self, obj: NodeRun) -> str:
        moments = (("created", obj.created_at), ("sent", obj.sent_at), ("received", obj.received_at),
                   ("started", obj.started_at), ("finished", obj.finished_at))
        return ", ".join(f"{label} {moment:%Y-%m-%d %H:%M:%S.%f}"[:-3] for label, moment in moments if moment)

    @admin.display(description="parents")
    def parent_json(self, obj: NodeRun) -> SafeString:
        return format_html('<pre class="selinon-code">{}</pre>', pretty_json(obj.parent))

    @admin.display(description="arguments")
    def node_args_json(self, obj: NodeRun) -> SafeString:
        return format_html('<pre class="selinon-code">{}</pre>', pretty_json(obj.node_args))

    @admin.display(description="result")
    def result_text(self, obj: NodeRun) -> SafeString:
        if obj.result_storage:
            return format_html("in storage <code>{}</code>", obj.result_storage)
        return format_html('<pre class="selinon-code">{}</pre>', pretty_json(obj.result))

    @admin.display(description="log")
    def log(self, obj: NodeRun) -> str:
        panel = task_logs.node_panel(obj)
        return render_to_string("selinon_django/admin/task_log.html", {"panel": panel})

    @admin.display(description="traceback")
    def traceback_text(self, obj: NodeRun) -> SafeString:
        if not obj.traceback:
            return format_html("{}", "—")
        return format_html('<pre class="selinon-code selinon-traceback">{}</pre>', obj.traceback)
