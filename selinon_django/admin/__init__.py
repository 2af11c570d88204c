"""The Django admin of selinon_django (autodiscovered as ``selinon_django.admin``).

Importing the modules registers their ModelAdmins: definitions (read-only), revisions (with the
upload and diff pages), runs (with the live run page and its actions), and read-only lists of
node runs, trace events, flow migrations and schedule ticks, and the workers and queues page; the
runs dashboard.
"""

from selinon_django.admin import (
    dashboard,
    definitions,
    flowmigrations,
    noderuns,
    revisions,
    runs,
    schedules,
    traces,
    workers,
)
from selinon_django.triggers import admin as triggers

__all__ = [
    "dashboard", "definitions", "flowmigrations", "noderuns", "revisions", "runs", "schedules", "traces", "triggers",
    "workers",
]
