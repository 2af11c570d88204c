"""A paginator that does not count a huge unfiltered table on every page view.

Django's admin asks its paginator for the number of rows behind the list; for the run, node-run
and trace tables unfiltered that is a ``COUNT(*)`` over tens of millions of rows (seconds, on
every page of the list, while workers write). When the list is not filtered and PostgreSQL's
planner statistics say the table holds at least :data:`ESTIMATE_FROM` rows, the statistics'
estimate stands in for the count: a page link near the end may then be off by a few pages, which
on such a table nobody can tell. Filtered lists and smaller tables are counted exactly, except a
list's default filter (``estimate_filtered``: the runs list's top-level runs), whose rows the
planner estimates.
"""
from __future__ import annotations

import json
from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

from selinon_django.runtime.store import run_store

#: from this many rows (as PostgreSQL's statistics estimate them) an unfiltered list is not counted
ESTIMATE_FROM = 100_000


def estimated_rows(queryset: Any) -> int | None:
    """PostgreSQL's estimate of the rows of ``queryset``'s table when ``queryset`` is the whole
    table (no filter, no distinct, no slicing), else None; None also before the table was
    analysed and on other databases."""
    if not isinstance(queryset, QuerySet):
        return None
    query = queryset.query
    if query.where or query.distinct or query.is_sliced or query.combinator:
        return None
    connection = connections[queryset.db]
    return run_store(connection).estimated_rows(queryset.model._meta.db_table, connection)


def planned_rows(queryset: QuerySet[Any]) -> int | None:
    """PostgreSQL's estimate of the rows ``queryset`` returns (the top plan node of its EXPLAIN),
    when its table holds at least :data:`ESTIMATE_FROM` rows by the statistics; else None."""
    table_rows = estimated_rows(queryset.model._default_manager.using(queryset.db).all())
    if table_rows is None or table_rows < ESTIMATE_FROM:
        return None
    plan = json.loads(queryset.explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """:class:`~django.core.paginator.Paginator` whose ``count`` of a big unfiltered table is the
    planner's estimate (see the module docstring).

    ``estimate_filtered``: the list's *default* filter is applied (the runs list shows top-level
    runs unless asked otherwise), which would otherwise count the big table on every view; the
    planner's estimate of the filtered rows stands in for the count then too.
    """

    def __init__(self, *args: Any, estimate_filtered: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.estimate_filtered = estimate_filtered

    @cached_property
    def count(self) -> int:
        if self.estimate_filtered and isinstance(self.object_list, QuerySet):
            planned = planned_rows(self.object_list)
            if planned is not None:
                return planned
        estimate = estimated_rows(self.object_list)
        if estimate is not None and estimate >= ESTIMATE_FROM:
            return estimate
        return int(super().count)
