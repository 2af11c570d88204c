"""What each tick of a scheduled flow did (read-only); the schedules themselves are Celery beat's
entries, edited in django-celery-beat's own admin ("Periodic tasks") or loaded from YAML."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from selinon_django.admin.readonly import ReadOnlyAdmin
from selinon_django.models import ScheduleTick


@admin.register(ScheduleTick)
class ScheduleTickAdmin(ReadOnlyAdmin):
    list_display = ("at", "schedule", "outcome", "run_link", "detail")
    list_filter = ("outcome",)
    search_fields = ("=schedule",)
    date_hierarchy = "at"
    list_select_related = False
    show_full_result_count = False

    @admin.display(description="run")
    def run_link(self, obj: ScheduleTick) -> SafeString | str:
        if obj.run_id is None:
            return "—"
        url = reverse("admin:selinon_django_flowrun_change", args=[obj.run_id])
        return format_html('<a href="{}">{}</a>', url, obj.run_id)
