"""Per-run node counts and first errors of the runs list, read for the displayed page only.

Counting node runs with ``annotate(Count("node_runs"))`` over the list's queryset joins and groups
every node run of the table before the page is cut, and the paginator's ``COUNT`` wraps that same
grouped join: on millions of node runs each list view reads the whole node-run table twice. So the
counts of the runs on the page are read afterwards by one grouped query on their ids (the
``(flow_run, name)`` index serves it), and the queryset only *aliases* the counts as correlated
subqueries: an alias is not selected, so it costs nothing unless the user sorts by a count
column, the one case that has to count every listed run's nodes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.admin.views.main import ChangeList
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Substr
from django.http import HttpRequest

from selinon_django.models import FlowRun, NodeRun, NodeRunStatus

#: attribute / alias name -> extra filter on the run's node runs
NODE_COUNTS: dict[str, Q] = {
    "node_total": Q(),
    "node_failed": Q(status=NodeRunStatus.FAILED),
}


def _counted(condition: Q) -> Coalesce:
    """The number of the outer run's node runs matching ``condition`` (0, not NULL, for none)."""
    rows = (
        NodeRun.objects.filter(condition, flow_run=OuterRef("pk"))
        .order_by()
        .values("flow_run")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows), 0)


def with_sortable_node_counts(queryset: QuerySet[FlowRun]) -> QuerySet[FlowRun]:
    """``queryset`` with the counts as aliases: usable in ``order_by``, absent from the SQL otherwise."""
    return queryset.alias(**{name: _counted(condition) for name, condition in NODE_COUNTS.items()})


def attach_node_counts(runs: Iterable[FlowRun]) -> None:
    """Set ``node_total`` / ``node_failed`` on each run from one grouped query on their ids."""
    page = list(runs)
    if not page:
        return
    aggregates = {name: Count("pk", filter=condition or None) for name, condition in NODE_COUNTS.items()}
    rows = (
        NodeRun.objects.filter(flow_run_id__in=[run.pk for run in page])
        .order_by()
        .values("flow_run_id")
        .annotate(**aggregates)
    )
    counts: dict[str, dict[str, Any]] = {row["flow_run_id"]: dict(row) for row in rows}
    for run in page:
        row = counts.get(run.pk, {})
        for name in NODE_COUNTS:
            vars(run)[name] = row.get(name, 0)


#: characters of an error read from the database per run of the page (a traceback can be long)
ERROR_HEAD = 400


def first_line(text: str) -> str:
    """The first line of ``text`` that says something (exception texts may start with a newline)."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def attach_first_errors(runs: Iterable[FlowRun]) -> None:
    """Set ``first_error`` on each run: the first line of its first failed node's exception, else
    of the run's own error ("cancelled", "flow failed ..."), else "".

    One query on the page's ids; per run, a correlated subquery reads that run's failed node runs
    through the ``(flow_run, name)`` index, and only the head of each text leaves the database.
    """
    page = list(runs)
    if not page:
        return
    failed = (
        NodeRun.objects.filter(flow_run=OuterRef("pk"), status=NodeRunStatus.FAILED)
        .exclude(exception="")
        .order_by(F("finished_at").asc(nulls_last=True), "created_at")
        .values(head=Substr("exception", 1, ERROR_HEAD))[:1]
    )
    rows = FlowRun.objects.filter(pk__in=[run.pk for run in page]).values_list(
        "pk", Subquery(failed), Substr("error", 1, ERROR_HEAD)
    )
    errors = {pk: first_line(node_error or "") or first_line(run_error or "") for pk, node_error, run_error in rows}
    for run in page:
        vars(run)["first_error"] = errors.get(run.pk, "")


class RunChangeList(ChangeList):
    """The admin's change list, with the node counts and first errors of the displayed runs attached."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        result_list: Any = self.result_list
        # Iterating the page's queryset fills its result cache: the template gets these instances.
        attach_node_counts(result_list)
        attach_first_errors(result_list)
