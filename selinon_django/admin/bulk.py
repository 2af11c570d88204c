"""Bulk cancel and bulk retry: admin actions on the runs list, behind a confirmation page.

An action on many runs is the one place a click does a lot, so it is guarded three ways: the
``change_flowrun`` permission (the action is not offered without it), a confirmation page that
lists what will happen to which run (and which selected runs are left alone, and why), and a
re-check of each run's state when the confirmed request arrives (a run that finished meanwhile is
skipped, not cancelled). At most :data:`MAX_RUNS` runs per action: "select all" on a list of
100,000 runs would otherwise try to cancel every one inside one request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from selinon_django.errors import SelinonDjangoError
from selinon_django.models import FLOW_FINISHED_STATUSES, FlowRun, FlowRunStatus

#: runs one bulk action may touch
MAX_RUNS = 200


def cancel_refusal(run: FlowRun) -> str:
    """Why ``run`` cannot be cancelled ("" when it can): only unfinished runs can."""
    return f"already {run.status}" if run.status in FLOW_FINISHED_STATUSES else ""


def retry_refusal(run: FlowRun) -> str:
    """Why ``run`` cannot be retried ("" when it can): only failed top-level runs can."""
    if run.status != FlowRunStatus.FAILED:
        return f"{run.status}, not failed"
    if run.parent_run_id is not None:
        return "a sub-flow run (retry its top-level run)"
    return ""


@dataclass(frozen=True)
class BulkAction:
    """One bulk action: its words, who qualifies, and what to do to one run."""

    name: str
    verb: str
    explanation: str
    refusal: Callable[[FlowRun], str]


CANCEL = BulkAction(
    name="cancel_selected",
    verb="cancel",
    explanation="Each run below and its sub-flows are revoked; running tasks are terminated.",
    refusal=cancel_refusal,
)
RETRY = BulkAction(
    name="retry_selected",
    verb="retry",
    explanation="The failed nodes of each run below run again; what succeeded is kept.",
    refusal=retry_refusal,
)


@dataclass
class Selection:
    """The selected runs split into those the action applies to and those it leaves alone."""

    eligible: list[FlowRun] = field(default_factory=list)
    skipped: list[tuple[FlowRun, str]] = field(default_factory=list)


def select(action: BulkAction, runs: list[FlowRun]) -> Selection:
    selection = Selection()
    for run in runs:
        reason = action.refusal(run)
        if reason:
            selection.skipped.append((run, reason))
        else:
            selection.eligible.append(run)
    return selection


def run_bulk_action(
    model_admin: Any,
    request: HttpRequest,
    queryset: QuerySet[FlowRun],
    action: BulkAction,
    perform: Callable[[str], Any],
) -> TemplateResponse | None:
    """The confirmation page (first POST) or the action done (the confirmed POST); None sends
    the user back to the list, with a message saying what happened."""
    runs = list(
        queryset.select_related(None)
        .only("id", "flow_name", "status", "parent_run_id", "created_at")
        .order_by("-created_at", "pk")[: MAX_RUNS + 1]
    )
    if len(runs) > MAX_RUNS:
        messages.error(
            request, f"At most {MAX_RUNS} runs can be {action.verb}led at once; select fewer (filter the list)."
        )
        return None
    selection = select(action, runs)
    if request.POST.get("post") != "yes":
        return _confirmation(model_admin, request, action, selection)
    done, failed = 0, []
    for run in selection.eligible:
        try:
            perform(run.pk)
        except SelinonDjangoError as error:  # finished or changed since the page was shown
            failed.append(f"{run.pk[:8]}: {error}")
        else:
            done += 1
    skipped = len(selection.skipped) + len(failed)
    summary = f"{action.verb.capitalize()}: {done} run(s)" + (f"; {skipped} left alone" if skipped else "") + "."
    messages.success(request, summary) if done else messages.warning(request, summary)
    for text in failed[:10]:
        messages.warning(request, text)
    return None


def _confirmation(
    model_admin: Any, request: HttpRequest, action: BulkAction, selection: Selection
) -> TemplateResponse:
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": f"{action.verb.capitalize()} {len(selection.eligible)} run(s)?",
        "action": action,
        "selection": selection,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/selinon_django/flowrun/bulk_confirm.html", context)
