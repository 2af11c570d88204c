"""Trace events across all runs: a read-only list filtered by event, each linked to its run.

The run page shows one run's events; this list finds events of one kind everywhere (every
``MIGRATION_TAINTED_FLOW``, every ``NODE_FAILURE``), including events outside any run.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from selinon_django.admin.paging import EstimatedCountPaginator
from selinon_django.admin.readonly import ReadOnlyAdmin
from selinon_django.admin.runview import pretty_json, run_url
from selinon_django.models import TraceEventRecord

#: characters of the details shown in the list (the event's page shows them whole)
DETAILS_PREVIEW = 120


@admin.register(TraceEventRecord)
class TraceEventRecordAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "event", "run_link", "node_run_id", "details_preview")
    list_display_links = ("created_at", "event")
    list_filter = ("event",)
    search_fields = ("^flow_run__id", "^node_run_id")
    search_help_text = "The start of a flow run's or a node run's id."
    list_select_related = ("flow_run",)
    list_per_page = 100
    show_full_result_count = False
    paginator = EstimatedCountPaginator  # no COUNT(*) of a huge unfiltered table per page
    ordering = ("-created_at", "-id")
    fields = ("created_at", "event", "run_link", "node_run_id", "details_json")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[TraceEventRecord]:
        # the run's own large columns are never shown here
        return super().get_queryset(request).defer(
            "flow_run__state", "flow_run__node_args", "flow_run__result", "flow_run__error", "flow_run__parent",
            "flow_run__selective",
        )

    @admin.display(description="flow run", ordering="flow_run_id")
    def run_link(self, obj: TraceEventRecord) -> SafeString:
        run = obj.flow_run
        if run is None:
            return format_html("{}", "—")
        return format_html('<a href="{}">{} {}</a>', run_url(run.pk), run.flow_name, run.pk[:8])

    @admin.display(description="details")
    def details_preview(self, obj: TraceEventRecord) -> str:
        text = pretty_json(obj.details).replace("\n", " ")
        text = " ".join(text.split())
        return text if len(text) <= DETAILS_PREVIEW else text[: DETAILS_PREVIEW - 1] + "…"

    @admin.display(description="details")
    def details_json(self, obj: TraceEventRecord) -> SafeString:
        return format_html('<pre class="selinon-code">{}</pre>', pretty_json(obj.details))
