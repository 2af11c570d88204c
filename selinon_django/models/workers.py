"""``WorkersAndQueues``: no table of its own, only the admin's entry for the workers page.

The admin lists models, not pages; a proxy of :class:`~selinon_django.models.runs.FlowRun`
puts "Workers and queues" on the admin index and in its sidebar, next to the runs it is about,
without a table or a data migration. Seeing it needs the permission to view flow runs (the
page names the runs that wait on a queue), not a permission of its own.
"""

from __future__ import annotations

from selinon_django.models.runs import FlowRun


class WorkersAndQueues(FlowRun):
    class Meta:
        proxy = True
        verbose_name = "workers and queues"
        verbose_name_plural = "workers and queues"
        # the page is read-only: no add, change or delete permission to hand out
        default_permissions = ("view",)
