"""Flows, tasks and storages of the revisions: read-only, a flow page shows its graph.

Configuration shown here is masked (:mod:`selinon_django.config.secrets`): a storage's
connection string or password is no business of a user who may only view definitions, and the
pages are the same for everyone.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from selinon_django.admin.filters import refuse_filter_value, revision_number
from selinon_django.admin.graphs import definition_svg
from selinon_django.admin.readonly import ReadOnlyAdmin
from selinon_django.admin.runview import pretty_json
from selinon_django.config.secrets import mask_configuration, mask_secrets
from selinon_django.models import FlowDefinition, StorageDefinition, TaskDefinition
from selinon_django.payloads import PayloadError


class CurrentRevisionFilter(admin.SimpleListFilter):
    """Definitions of the current revision unless another one is chosen (old ones pile up)."""

    title = "revision"
    parameter_name = "revision"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from selinon_django.models import ConfigRevision

        return [("all", "all revisions")] + [
            (str(n), f"revision {n}") for n in ConfigRevision.objects.values_list("number", flat=True)
        ]

    def choices(self, changelist: Any) -> Any:
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "current",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        from selinon_django.models import ConfigRevision

        value = self.value()
        if value == "all":
            return queryset
        if value:
            try:
                return queryset.filter(revision__number=revision_number(value))
            except PayloadError as error:
                return refuse_filter_value(request, queryset, f"Revision filter: {error}")
        current = ConfigRevision.objects.current()
        return queryset.filter(revision=current) if current else queryset.none()


def _revision_link(revision: Any) -> SafeString:
    url = reverse("admin:selinon_django_configrevision_change", args=[revision.pk])
    return format_html('<a href="{}">{}</a>', url, revision.number)


@admin.register(FlowDefinition)
class FlowDefinitionAdmin(ReadOnlyAdmin):
    list_display = ("name", "revision_number", "queue", "edge_count", "failure_count", "runs_link")
    list_filter = (CurrentRevisionFilter,)
    search_fields = ("name",)
    list_select_related = ("revision",)
    fields = ("name", "revision_number", "queue", "graph", "edge_table", "failure_table", "option_list", "runs_link")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[FlowDefinition]:
        return (
            super()
            .get_queryset(request)
            .annotate(edge_count=Count("edges", distinct=True), failure_count=Count("failures", distinct=True))
        )

    @admin.display(description="revision", ordering="revision__number")
    def revision_number(self, obj: FlowDefinition) -> SafeString:
        return _revision_link(obj.revision)

    @admin.display(description="edges", ordering="edge_count")
    def edge_count(self, obj: Any) -> int:
        return int(obj.edge_count)

    @admin.display(description="failures", ordering="failure_count")
    def failure_count(self, obj: Any) -> int:
        return int(obj.failure_count)

    @admin.display(description="runs")
    def runs_link(self, obj: FlowDefinition) -> SafeString:
        url = reverse("admin:selinon_django_flowrun_changelist")
        query = urlencode({"flow": obj.name, "revision": obj.revision.number})  # a name may hold & or #
        return format_html('<a href="{}?{}">runs</a>', url, query)

    @admin.display(description="graph")
    def graph(self, obj: FlowDefinition) -> SafeString:
        revision = obj.revision
        svg = definition_svg((revision.pk, revision.content_hash), revision.system_config(), obj.name)
        return format_html('<div class="selinon-graph">{}</div>', svg)

    @admin.display(description="edges")
    def edge_table(self, obj: FlowDefinition) -> SafeString:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><pre class='selinon-code'>{}</pre></td></tr>",
            (
                (
                    edge.index,
                    ", ".join(edge.from_nodes) or "(start)",
                    ", ".join(edge.to_nodes),
                    pretty_json(
                        mask_secrets({
                            k: v
                            for k, v in {
                                "condition": edge.condition,
                                "foreach": edge.foreach,
                                "selective": edge.selective,
                            }.items()
                            if v
                        })
                    )
                    if (edge.condition or edge.foreach or edge.selective)
                    else "",
                )
                for edge in obj.edges.all()
            ),
        )
        return format_html(
            '<div class="selinon-scroll"><table class="selinon-table"><thead><tr><th>#</th><th>from</th><th>to</th>'
            "<th>condition / foreach</th></tr></thead><tbody>{}</tbody></table></div>",
            rows,
        )

    @admin.display(description="failures")
    def failure_table(self, obj: FlowDefinition) -> SafeString:
        failures = list(obj.failures.all())
        if not failures:
            return format_html("{}", "none")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    ", ".join(f.nodes),
                    "True" if f.fallback is True else ", ".join(f.fallback),
                    pretty_json(mask_secrets(f.condition)) if f.condition else "",
                )
                for f in failures
            ),
        )
        return format_html(
            '<div class="selinon-scroll"><table class="selinon-table"><thead><tr><th>nodes</th><th>fallback</th>'
            "<th>condition</th></tr></thead><tbody>{}</tbody></table></div>",
            rows,
        )

    @admin.display(description="options")
    def option_list(self, obj: FlowDefinition) -> SafeString:
        return format_html('<pre class="selinon-code">{}</pre>', pretty_json(mask_secrets(obj.options)))


@admin.register(TaskDefinition)
class TaskDefinitionAdmin(ReadOnlyAdmin):
    list_display = ("name", "revision_number", "module", "classname", "queue", "storage", "max_retry")
    list_filter = (CurrentRevisionFilter,)
    search_fields = ("name", "module", "classname")
    list_select_related = ("revision",)
    fields = ("name", "revision_number", "module", "classname", "queue", "storage", "max_retry", "option_list")
    readonly_fields = fields

    @admin.display(description="revision", ordering="revision__number")
    def revision_number(self, obj: TaskDefinition) -> SafeString:
        return _revision_link(obj.revision)

    @admin.display(description="options")
    def option_list(self, obj: TaskDefinition) -> SafeString:
        return format_html('<pre class="selinon-code">{}</pre>', pretty_json(mask_secrets(obj.options)))


@admin.register(StorageDefinition)
class StorageDefinitionAdmin(ReadOnlyAdmin):
    list_display = ("name", "revision_number", "module", "classname")
    list_filter = (CurrentRevisionFilter,)
    search_fields = ("name", "module", "classname")
    list_select_related = ("revision",)
    fields = ("name", "revision_number", "module", "classname", "configuration_text", "cache_text")
    readonly_fields = fields

    @admin.display(description="revision", ordering="revision__number")
    def revision_number(self, obj: StorageDefinition) -> SafeString:
        return _revision_link(obj.revision)

    @admin.display(description="configuration")
    def configuration_text(self, obj: StorageDefinition) -> SafeString:
        return format_html('<pre class="selinon-code">{}</pre>', pretty_json(mask_configuration(obj.configuration)))

    @admin.display(description="cache")
    def cache_text(self, obj: StorageDefinition) -> SafeString:
        return format_html('<pre class="selinon-code">{}</pre>', pretty_json(mask_secrets(obj.cache)))
