"""Admin pages of trigger sessions, fired triggers and trigger-task instances (read-only).

Registered when this module is imported (``selinon_django/admin/__init__.py`` imports it).
Rows are history written by the runtime, so the pages show them and allow deleting a session,
never editing what happened; trigger-task instances are not deleted one by one (runs are not either).
"""
from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from selinon_django.admin.nul_guard import NulGuardedAdmin
from selinon_django.models.triggers import FiredTrigger, TriggerSession, TriggerTaskInstance


def _json(value: Any) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, default=str))


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FiredTriggerInline(_ReadOnly, admin.TabularInline):
    model = FiredTrigger
    fk_name = "session"
    extra = 0
    fields = ("name", "source", "kwargs", "fired_at")
    readonly_fields = fields
    ordering = ("fired_at", "id")


class _Undeletable:
    """History that goes only with its session (or, for a trigger-task instance, never alone:
    the flow run it started cannot be deleted either), so no "Delete selected" and no delete box."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TriggerTaskInstanceInline(_Undeletable, _ReadOnly, admin.TabularInline):
    model = TriggerTaskInstance
    extra = 0
    fields = ("name", "kind", "target", "status", "attempts", "flow_run", "finished_at")
    readonly_fields = fields
    show_change_link = True


@admin.register(TriggerSession)
class TriggerSessionAdmin(_ReadOnly, NulGuardedAdmin, admin.ModelAdmin):
    list_display = ("key", "created_at", "updated_at")
    search_fields = ("key",)
    readonly_fields = ("key", "configuration_json", "created_at", "updated_at")
    fields = readonly_fields
    inlines = (FiredTriggerInline, TriggerTaskInstanceInline)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, set[str], Any]:
        """A session goes with its trigger-task instances: the permission to delete the session is
        enough, although those instances cannot be deleted on their own."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(str(TriggerTaskInstance._meta.verbose_name))
        return deleted, counts, perms_needed, protected

    @admin.display(description="own configuration (over the YAML triggers)")
    def configuration_json(self, obj: TriggerSession) -> str:
        return _json(obj.configuration)


@admin.register(FiredTrigger)
class FiredTriggerAdmin(_ReadOnly, NulGuardedAdmin, admin.ModelAdmin):
    list_display = ("name", "session", "source", "fired_at")
    list_filter = ("source",)
    search_fields = ("name", "session__key")
    readonly_fields = ("session", "name", "source", "cascade_of", "kwargs_json", "fired_at")
    fields = readonly_fields
    list_select_related = ("session",)

    @admin.display(description="kwargs")
    def kwargs_json(self, obj: FiredTrigger) -> str:
        return _json(obj.kwargs)


@admin.register(TriggerTaskInstance)
class TriggerTaskInstanceAdmin(_Undeletable, _ReadOnly, NulGuardedAdmin, admin.ModelAdmin):
    list_display = ("name", "session", "kind", "target", "status", "attempts", "created_at", "finished_at")
    list_filter = ("status", "kind")
    search_fields = ("name", "session__key", "target", "id")
    list_select_related = ("session",)
    readonly_fields = (
        "id", "session", "name", "kind", "target", "status", "attempts", "max_retries", "queue", "priority",
        "trigger_kwargs_json", "result_json", "error", "traceback", "flow_run_link", "created_at",
        "started_at", "finished_at",
    )
    fields = readonly_fields

    @admin.display(description="trigger kwargs")
    def trigger_kwargs_json(self, obj: TriggerTaskInstance) -> str:
        return _json(obj.trigger_kwargs)

    @admin.display(description="result")
    def result_json(self, obj: TriggerTaskInstance) -> str:
        return _json(obj.result)

    @admin.display(description="flow run")
    def flow_run_link(self, obj: TriggerTaskInstance) -> str:
        if obj.flow_run_id is None:
            return "-"
        try:
            url = reverse("admin:selinon_django_flowrun_change", args=[obj.flow_run_id])
        except NoReverseMatch:
            return str(obj.flow_run_id)
        return format_html('<a href="{}">{}</a>', url, obj.flow_run_id)
