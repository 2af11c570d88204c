"""The "Workers and queues" page: who is online, what each queue holds, and what waits in vain.

Reached from the admin index (the :class:`~selinon_django.models.WorkersAndQueues` proxy); seeing
it needs the permission to view flow runs. Each visit asks the broker and the workers once, with
``WORKERS_INSPECT_TIMEOUT`` (a second by default) as the bound of each question; a broker that
does not answer is said plainly, and then nothing is claimed about workers or consumers.
"""
from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone

from selinon_django.conf import selinon_settings
from selinon_django.models import WorkersAndQueues
from selinon_django.runtime.queue_status import current_queues, depths, list_runs, waiting_by_queue
from selinon_django.runtime.workers import inspect_workers

VIEW_PERMISSIONS = ("selinon_django.view_flowrun", "selinon_django.change_flowrun",
                    "selinon_django.view_workersandqueues")


@admin.register(WorkersAndQueues)
class WorkersAndQueuesAdmin(admin.ModelAdmin):
    """No list, no form: the model's admin entry opens the page."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return any(request.user.has_perm(permission) for permission in VIEW_PERMISSIONS)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        name = f"{opts.app_label}_{opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.changelist_view), name=name)]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        timeout = selinon_settings().WORKERS_INSPECT_TIMEOUT
        report = inspect_workers(timeout)
        revision, uses = current_queues()
        consumers = report.consumed
        sizes = depths(uses, report.transport) if report.answered else dict.fromkeys(uses)
        for use in uses.values():
            use.depth = sizes.get(use.name)
            use.consumers = consumers.get(use.name, [])
        waits = waiting_by_queue()
        stranded = []
        if report.answered:
            for wait in waits.values():
                if wait.queue not in consumers:
                    list_runs(wait)
                    stranded.append(wait)
        context = {
            **self.admin_site.each_context(request),
            **(extra_context or {}),
            "opts": self.model._meta,
            "title": "Workers and queues",
            "report": report,
            "revision": revision,
            "queues": list(uses.values()),
            "waits": list(waits.values()),
            "stranded": stranded,
            "now": timezone.now(),
        }
        return TemplateResponse(request, "admin/selinon_django/workers.html", context)
