"""``{% run_task_logs run %}``: the run page's task-log panel (see :mod:`selinon_django.admin.task_logs`).

A tag rather than a context variable, so the panel needs nothing from the view that renders the
run page: the template asks for it where it wants it.
"""
from __future__ import annotations

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from selinon_django.admin.task_logs import run_panel
from selinon_django.models import FlowRun

register = template.Library()


@register.simple_tag
def run_task_logs(run: FlowRun) -> SafeString:
    return render_to_string("selinon_django/admin/task_log.html", {"panel": run_panel(run)})
