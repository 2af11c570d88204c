"""The Django admin of selinon_django (autodiscovered as ``selinon_django.admin``).

Importing the modules registers their ModelAdmins: definitions (read-only), revisions (with the
upload and diff pages) and runs (with the live run page and its actions).
"""

from selinon_django.admin import definitions, revisions, runs
from selinon_django.triggers import admin as triggers

__all__ = ["definitions", "revisions", "runs", "triggers"]
