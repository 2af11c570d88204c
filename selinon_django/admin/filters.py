"""List filters of the runs page: flow, revision, top-level or sub-flow, and a date range."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from selinon_django.models import ConfigRevision


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
        return queryset.filter(revision__number=value) if value and value.isdigit() else queryset


class RunKindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("top", "started by a user"), ("sub", "sub-flows")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "top":
            return queryset.filter(parent_run__isnull=True)
        if self.value() == "sub":
            return queryset.filter(parent_run__isnull=False)
        return queryset


def _moment(text: str, *, end: bool) -> dt.datetime | None:
    """A date (whole day) or a date-time from the filter's inputs, aware in the current zone."""
    text = text.strip()
    value = parse_datetime(text.replace(" ", "T")) if ("T" in text or ":" in text) else None
    if value is None:
        day = parse_date(text)
        if day is None:
            return None
        value = dt.datetime.combine(day, dt.time.max if end else dt.time.min)
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
        start = _moment(self.values.get("started_from", ""), end=False)
        end = _moment(self.values.get("started_to", ""), end=True)
        if start is None and end is None:
            return queryset
        queryset = queryset.alias(started_or_created=Coalesce("started_at", "created_at"))
        if start is not None:
            queryset = queryset.filter(started_or_created__gte=start)
        if end is not None:
            queryset = queryset.filter(started_or_created__lte=end)
        return queryset
