"""List filters of the runs page: flow, revision, top-level (the default) or sub-flow, and a date range.

A value a filter cannot apply (``?revision=²``, ``?started_from=2024-02-30``: typed by hand or
forged) is reported on the page as an error and the list shows nothing, rather than a 500 or,
worse, every row under a filter that looks applied (:func:`refuse_filter_value`). NUL in any
parameter never gets here (:mod:`selinon_django.admin.nul_guard`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from selinon_django.models import ConfigRevision
from selinon_django.payloads import INT32_MAX, PayloadError, parse_bounded_int


def refuse_filter_value(request: HttpRequest, queryset: QuerySet[Any], message: str) -> QuerySet[Any]:
    """A filter value that cannot be applied: an error message on the page and an empty list."""
    messages.error(request, f"{message}; nothing is listed.", fail_silently=True)
    return queryset.none()


def revision_number(value: str) -> int:
    """A revision number from a query string (:class:`PayloadError` if it is none)."""
    return parse_bounded_int(value, minimum=1, maximum=INT32_MAX)


class FlowNameFilter(admin.SimpleListFilter):
    """The flows of the current revision, plus the selected one (a flow since removed, or a
    hand-written ``?flow=``): a ``DISTINCT`` over the run table would read all of it per view."""

    title = "flow"
    parameter_name = "flow"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        revision = ConfigRevision.objects.current()
        names = set(revision.flows.values_list("name", flat=True)) if revision is not None else set()
        if self.value():
            names.add(str(self.value()))
        return [(name, name) for name in sorted(names)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(flow_name=self.value()) if self.value() else queryset


class RevisionFilter(admin.SimpleListFilter):
    title = "revision"
    parameter_name = "revision"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (str(number), f"revision {number}") for number in ConfigRevision.objects.values_list("number", flat=True)
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        try:
            number = revision_number(value)
        except PayloadError as error:
            return refuse_filter_value(request, queryset, f"Revision filter: {error}")
        return queryset.filter(revision__number=number)


#: the kind filter's values; without one the list shows top-level runs (see RunKindFilter)
TOP_LEVEL, SUB_FLOWS, ALL_KINDS = "top", "sub", "all"


def is_default_list(request: HttpRequest) -> bool:
    """The runs list as it opens (top-level runs, maybe another page or order): no filter, no search."""
    if set(request.GET) - {"p", "o", RunKindFilter.parameter_name}:
        return False
    return request.GET.get(RunKindFilter.parameter_name, TOP_LEVEL) == TOP_LEVEL


def shows_top_level_only(request: HttpRequest) -> bool:
    """The list shows top-level runs only: ``?kind=top``, or no kind and no search."""
    kind = request.GET.get(RunKindFilter.parameter_name)
    return kind == TOP_LEVEL or (not kind and not is_searching(request))


def is_searching(request: HttpRequest) -> bool:
    """The list is searched (``?q=``): a pasted run id must find a sub-flow run too."""
    return bool(str(request.GET.get("q", "")).strip())


class RunKindFilter(admin.SimpleListFilter):
    """Top-level runs by default, sub-flows one click away.

    Sub-flow runs outnumber the runs people start (a foreach of sub-flows makes hundreds per run)
    and each is reachable from its parent's page, so without ``?kind=`` the list shows runs that
    have no parent; ``sub`` shows only sub-flow runs, ``all`` both. A search looks at every kind
    unless a kind is chosen, so a sub-flow run's id pasted into the search box finds it.
    """

    title = "kind"
    parameter_name = "kind"

    def __init__(self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any) -> None:
        super().__init__(request, params, model, model_admin)
        self.searching = is_searching(request)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(TOP_LEVEL, "top-level runs"), (SUB_FLOWS, "sub-flow runs"), (ALL_KINDS, "all runs")]

    def effective_value(self) -> str:
        value = self.value()
        if value:
            return str(value)
        return ALL_KINDS if self.searching else TOP_LEVEL

    def choices(self, changelist: Any) -> Iterator[Any]:
        """No "All" entry of its own: ``all`` is a choice, and no parameter means top-level."""
        current = self.effective_value()
        for value, title in self.lookup_choices:
            yield {
                "selected": value == current,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.effective_value()
        if value == TOP_LEVEL:
            return queryset.filter(parent_run__isnull=True)
        if value == SUB_FLOWS:
            return queryset.filter(parent_run__isnull=False)
        if value == ALL_KINDS:
            return queryset
        return refuse_filter_value(request, queryset, f"Kind: {value[:20]!r} is not top, sub or all")


class NotAMoment(ValueError):
    """The text is neither a date nor a date-time."""


def _moment(text: str, *, end: bool) -> dt.datetime | None:
    """A date (whole day) or a date-time from the filter's inputs, aware in the current zone;
    None for an empty input, :class:`NotAMoment` for anything else that is not one."""
    text = text.strip()
    if not text:
        return None
    try:  # well-formed but impossible values (2024-02-30, 25:00) raise ValueError
        value = parse_datetime(text.replace(" ", "T")) if ("T" in text or ":" in text) else None
        if value is None:
            day = parse_date(text)
            if day is None:
                raise NotAMoment(text)
            value = dt.datetime.combine(day, dt.time.max if end else dt.time.min)
    except ValueError:
        raise NotAMoment(text) from None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


class StartedBetweenFilter(admin.ListFilter):
    """``started_from`` / ``started_to`` (dates or date-times); a run not started yet counts by creation."""

    title = "started between"
    template = "admin/selinon_django/date_range_filter.html"
    parameters = ("started_from", "started_to")

    def __init__(self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any) -> None:
        super().__init__(request, params, model, model_admin)
        self.values: dict[str, str] = {}
        for name in self.parameters:
            if name in params:
                value = params.pop(name)
                value = value[-1] if isinstance(value, list) else value
                self.values[name] = str(value)
                self.used_parameters[name] = str(value)
        self.other_params = [(k, v) for k, v in request.GET.items() if k not in self.parameters and k != "p"]

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str | None]:
        return list(self.parameters)

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:
        yield {
            "from": self.values.get("started_from", ""),
            "to": self.values.get("started_to", ""),
            "other_params": self.other_params,
            "clear_query": changelist.get_query_string(remove=list(self.parameters)),
            "selected": bool(self.values),
        }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        try:
            start = _moment(self.values.get("started_from", ""), end=False)
            end = _moment(self.values.get("started_to", ""), end=True)
        except NotAMoment as error:
            return refuse_filter_value(
                request, queryset, f"Started between: {str(error)[:40]!r} is not a date (YYYY-MM-DD) or date-time"
            )
        if start is None and end is None:
            return queryset
        queryset = queryset.alias(started_or_created=Coalesce("started_at", "created_at"))
        if start is not None:
            queryset = queryset.filter(started_or_created__gte=start)
        if end is not None:
            queryset = queryset.filter(started_or_created__lte=end)
        return queryset
