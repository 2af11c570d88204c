"""The Django admin of selinon_django (autodiscovered as ``selinon_django.admin``).

Importing the modules registers their ModelAdmins: definitions (read-only), revisions (with the
upload and diff pages), runs (with the live run page and its actions), and read-only lists of
node runs, trace events and flow migrations, and the workers and queues page.
"""

from selinon_django.admin import definitions, flowmigrations, noderuns, revisions, runs, traces, workers
from selinon_django.triggers import admin as triggers

__all__ = ["definitions", "flowmigrations", "noderuns", "revisions", "runs", "traces", "triggers", "workers"]
