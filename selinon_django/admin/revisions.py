"""Configuration revisions: the list, one revision with its YAML, the upload and the diff pages."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from selinon_django.admin.diffing import DIFF_COLOURS, diff_configs, diff_digraph
from selinon_django.admin.filters import revision_number
from selinon_django.admin.flowmigrations import plan_context
from selinon_django.admin.forms import UploadConfigForm, read_upload
from selinon_django.admin.graphs import svg_markup
from selinon_django.admin.readonly import ReadOnlyAdmin
from selinon_django.conf import selinon_settings
from selinon_django.config import (
    ConfigIssue,
    ConfigurationError,
    SourceFile,
)
from selinon_django.graph import configured_style
from selinon_django.models import ConfigRevision, ConfigSource, FlowDefinition, TaskDefinition
from selinon_django.payloads import PayloadError
from selinon_django.revisions import load_upload
from selinon_django.secret_display import masked_source_text, sees_written_secrets


def _count(model: Any) -> Coalesce:
    counts = (
        model.objects.filter(revision=OuterRef("pk")).order_by().values("revision").annotate(n=Count("pk")).values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), 0)


class ConfigSourceInline(admin.StackedInline):
    """The source files; their literal secrets are masked for users who may only view revisions
    (:mod:`selinon_django.secret_display`)."""

    model = ConfigSource
    extra = 0
    can_delete = False
    fields = ("role", "path", "source")
    readonly_fields = ("role", "path", "source")
    verbose_name_plural = "source files (as loaded)"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("role", "path", "source" if sees_written_secrets(request.user) else "masked_source")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.get_fields(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="YAML")
    def source(self, obj: ConfigSource) -> SafeString:
        return format_html('<pre class="selinon-code selinon-yaml">{}</pre>', obj.text)

    @admin.display(description="YAML (secrets masked)")
    def masked_source(self, obj: ConfigSource) -> SafeString:
        return format_html('<pre class="selinon-code selinon-yaml">{}</pre>', masked_source_text(obj.text))


@admin.register(ConfigRevision)
class ConfigRevisionAdmin(ReadOnlyAdmin):
    list_display = ("number", "short_hash", "created_at", "who", "flow_count", "task_count", "comment", "is_current")
    list_display_links = ("number", "short_hash")
    search_fields = ("content_hash", "comment", "created_by_name")
    list_select_related = ("created_by",)
    date_hierarchy = "created_at"
    fields = ("number", "content_hash", "created_at", "who", "comment", "flow_links", "diff_link")
    readonly_fields = fields
    inlines = (ConfigSourceInline,)
    change_list_template = "admin/selinon_django/configrevision/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConfigRevision]:
        newest = ConfigRevision.objects.order_by("-number").values("number")[:1]
        return (
            super()
            .get_queryset(request)
            .annotate(flow_count=_count(FlowDefinition), task_count=_count(TaskDefinition), newest=Subquery(newest))
        )

    @admin.display(description="loaded by")
    def who(self, obj: ConfigRevision) -> str:
        if obj.created_by is not None:
            return obj.created_by.get_username()
        return obj.created_by_name or "—"

    @admin.display(description="flows", ordering="flow_count")
    def flow_count(self, obj: Any) -> int:
        return int(obj.flow_count)

    @admin.display(description="tasks", ordering="task_count")
    def task_count(self, obj: Any) -> int:
        return int(obj.task_count)

    @admin.display(description="hash")
    def short_hash(self, obj: ConfigRevision) -> str:
        return obj.short_hash

    @admin.display(description="current", boolean=True)
    def is_current(self, obj: Any) -> bool:
        return bool(obj.number == getattr(obj, "newest", None))

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "can_upload": self.can_upload(request),
            "upload_url": reverse("admin:selinon_django_configrevision_upload"),
            "diff_url": reverse("admin:selinon_django_configrevision_diff"),
        }
        return super().changelist_view(request, context)

    @admin.display(description="flows")
    def flow_links(self, obj: ConfigRevision) -> SafeString:
        base = reverse("admin:selinon_django_flowdefinition_change", args=["0"]).rsplit("/0/", 1)[0]
        rows = obj.flows.order_by("name").values_list("pk", "name")
        return format_html_join(
            " ", '<a class="selinon-chip" href="{}/{}/change/">{}</a>', ((base, pk, name) for pk, name in rows)
        )

    @admin.display(description="changes")
    def diff_link(self, obj: ConfigRevision) -> SafeString:
        previous = ConfigRevision.objects.filter(number__lt=obj.number).order_by("-number").first()
        if previous is None:
            return format_html("{}", "the first revision")
        url = reverse("admin:selinon_django_configrevision_diff")
        return format_html(
            '<a href="{}?old={}&amp;new={}">compare with revision {}</a>',
            url,
            previous.number,
            obj.number,
            previous.number,
        )

    # --- extra pages ---

    def get_urls(self) -> list[URLPattern]:
        extra = [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="selinon_django_configrevision_upload"),
            path("diff/", self.admin_site.admin_view(self.diff_view), name="selinon_django_configrevision_diff"),
        ]
        return extra + super().get_urls()

    def can_upload(self, request: HttpRequest) -> bool:
        """Uploads import user-named modules, so they need both the permission and an allow-list."""
        return bool(selinon_settings().IMPORT_PREFIXES) and request.user.has_perm("selinon_django.add_configrevision")

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not selinon_settings().IMPORT_PREFIXES:
            raise PermissionDenied("uploads are off: SELINON_DJANGO['IMPORT_PREFIXES'] is not configured")
        if not request.user.has_perm("selinon_django.add_configrevision"):
            raise PermissionDenied
        issues: list[ConfigIssue] = []
        form = UploadConfigForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                sources = [
                    SourceFile(form.cleaned_data["nodes"].name, "nodes", read_upload(form.cleaned_data["nodes"]))
                ]
                sources += [
                    SourceFile(upload.name, "flows", read_upload(upload)) for upload in form.cleaned_data["flows"]
                ]
                sources += [
                    SourceFile(upload.name, "schema", read_upload(upload)) for upload in form.cleaned_data["schemas"]
                ]
            except forms.ValidationError as error:
                form.add_error(None, error)
            else:
                try:
                    revision, created = load_upload(
                        sources,
                        created_by=cast(Any, request.user),
                        comment=form.cleaned_data["comment"] or "uploaded in the admin",
                    )
                except ConfigurationError as error:
                    issues = list(error.issues)
                else:
                    if created:
                        messages.success(request, f"Loaded {revision}.")
                    else:
                        messages.info(request, f"Nothing changed: the upload equals the current {revision}.")
                    change_url = reverse("admin:selinon_django_configrevision_change", args=[revision.pk])
                    return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Upload a configuration",
            "form": form,
            "issues": issues,
            "prefixes": selinon_settings().IMPORT_PREFIXES,
        }
        return TemplateResponse(request, "admin/selinon_django/upload.html", context)

    def diff_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        numbers = list(ConfigRevision.objects.order_by("-number").values_list("number", flat=True))
        new_number = _int(request.GET.get("new"), numbers[0] if numbers else None)
        old_number = _int(request.GET.get("old"), numbers[1] if len(numbers) > 1 else new_number)
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Compare configuration revisions",
            "numbers": numbers,
            "old_number": old_number,
            "new_number": new_number,
            "colours": DIFF_COLOURS,
        }
        if old_number is not None and new_number is not None:
            old = get_object_or_404(ConfigRevision, number=old_number)
            new = get_object_or_404(ConfigRevision, number=new_number)
            old_config, new_config = old.system_config(), new.system_config()
            diff = diff_configs(old_config, new_config)
            style = configured_style()
            from selinon_django.runtime.migrating import policy_for

            context.update(plan_context(old, new))
            context.update(
                old=old,
                new=new,
                diff=diff,
                flow_graphs=[
                    (flow, svg_markup(diff_digraph(flow, old_config, new_config, style))) for flow in diff.changed_flows
                ],
                policies=[(f.name, policy_for(f.name)) for f in diff.changed_flows if f.change == "changed"],
            )
        return TemplateResponse(request, "admin/selinon_django/diff.html", context)


def _int(value: str | None, default: int | None) -> int | None:
    """A revision number from the query string; one that cannot be a revision's is a 404."""
    if not value:
        return default
    try:
        return revision_number(value)
    except PayloadError:
        raise Http404(f"no configuration revision {value[:40]!r}") from None
