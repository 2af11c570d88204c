"""Query-string filters of the API's lists, as django-filter FilterSets.

django-filter validates each parameter with a form field, so ``?created_after=yesterday`` is a
400 naming the parameter rather than a silently ignored filter, and drf-spectacular describes
the parameters in the OpenAPI schema from the FilterSet (``DjangoFilterBackend``). An empty
value (``?flow=``, what the browsable API's filter form sends for a field left blank) filters
nothing.

The few building blocks below exist because django-filter's defaults are lenient where this
API is strict: its boolean widget reads ``?top_level=perhaps`` as "no filter", its number filter
accepts decimals of any size, and its query-array widget splits ``a,b`` only outside a Django
``QueryDict``.
"""
from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.datastructures import MultiValueDict
from django_filters import rest_framework as filters
from django_filters.widgets import BooleanWidget
from drf_spectacular.utils import extend_schema_field

from selinon_django.models import FlowRun, FlowRunStatus

#: the largest value of the integer columns on every backend (PostgreSQL's integer is 32-bit)
MAX_INT = 2**31 - 1


class IntegerFilter(filters.NumberFilter):
    """A whole number (django-filter's NumberFilter takes any decimal): ``?revision=1.5`` or a
    5,000-digit number is a 400, and the schema says ``integer``. Pass ``min_value``/``max_value``
    to bound it (to the column's range, so a value never reaches the database as an overflow)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the schema states the bounds (drf-spectacular reads neither them nor the field class)
        schema: dict[str, Any] = {"type": "integer"}
        for keyword, bound in (("minimum", "min_value"), ("maximum", "max_value")):
            if self.extra.get(bound) is not None:
                schema[keyword] = self.extra[bound]
        schema["description"] = self.extra.get("help_text", "")
        extend_schema_field(schema)(self)


class StrictBooleanField(forms.Field):
    """``true``/``false`` (also ``1``/``0``, ``yes``/``no``, ``on``/``off``, any case); empty for no
    filter; anything else is a field error."""

    TRUE = frozenset({"true", "1", "yes", "on"})
    FALSE = frozenset({"false", "0", "no", "off"})

    def to_python(self, value: Any) -> bool | None:
        if value in self.empty_values:
            return None
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise ValidationError("Must be true or false.", code="invalid")


class _RawBooleanWidget(BooleanWidget):
    """The browsable API's yes/no select, handing the field the raw text to judge."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        return data.get(name)


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", _RawBooleanWidget)
        super().__init__(*args, **kwargs)


class CommaSeparatedWidget(forms.SelectMultiple):
    """Several values as ``?status=failed,revoked``, the parameter repeated, or both."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[str]:
        values = data.getlist(name) if isinstance(data, MultiValueDict) else [data.get(name) or ""]
        parts = (part.strip() for value in values for part in str(value).split(","))
        return list(dict.fromkeys(part for part in parts if part))


def status_filter(choices: Any, help_text: str) -> filters.MultipleChoiceFilter:
    """Rows in any of the listed statuses (an unknown status is a 400 naming the parameter)."""
    # distinct=False: a status is a column of the row itself, so no join can repeat a row, and a
    # DISTINCT over a page of runs would be a sort of the whole filtered table
    return filters.MultipleChoiceFilter(choices=choices, widget=CommaSeparatedWidget, distinct=False,
                                        help_text=help_text)


class RunFilterSet(filters.FilterSet):
    """``GET /api/runs/``: runs by flow, status, revision, parent, kind and time."""

    flow = filters.CharFilter(field_name="flow_name", max_length=255, help_text="Runs of this flow.")
    status = status_filter(
        FlowRunStatus.choices,
        "Runs in any of these statuses (comma-separated, or the parameter repeated).",
    )
    revision = IntegerFilter(field_name="revision__number", min_value=1, max_value=MAX_INT,
                             help_text="Runs pinned to this configuration revision.")
    parent = filters.CharFilter(field_name="parent_run", max_length=255,
                                help_text="Sub-flow runs started by this run.")
    top_level = StrictBooleanFilter(field_name="parent_run", lookup_expr="isnull",
                                    help_text="true: runs started by a user; false: sub-flows.")
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte",
                                              help_text="Created at or after (ISO 8601).")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt",
                                               help_text="Created before (ISO 8601).")
    started_after = filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte",
                                              help_text="Started at or after (ISO 8601).")
    started_before = filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt",
                                               help_text="Started before (ISO 8601).")

    class Meta:
        model = FlowRun
        fields: list[str] = []
