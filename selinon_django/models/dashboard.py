"""``RunDashboard``: no table of its own, only the admin's entry for the runs dashboard.

The admin index lists models, not pages; a proxy of :class:`~selinon_django.models.runs.FlowRun`
puts "Dashboard" on the admin index and in its sidebar, next to the runs it summarises, without a
table or a data migration. Seeing it needs the permission to view flow runs, not one of its own.
"""

from __future__ import annotations

from selinon_django.models.runs import FlowRun


class RunDashboard(FlowRun):
    class Meta:
        proxy = True
        verbose_name = "dashboard"
        verbose_name_plural = "dashboard"
        # the page only reads: no add, change or delete permission to hand out
        default_permissions = ("view",)
