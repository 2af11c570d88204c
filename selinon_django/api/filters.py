"""Query-string filters of the run list (a small backend: django-filter is not a dependency).

The parameters are validated with a serializer, so ``?created_after=yesterday`` is a 400 with
a field error rather than a silently ignored filter, and they are described in the schema.
"""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.filters import BaseFilterBackend
from rest_framework.request import Request

from selinon_django.models import FlowRunStatus


class _StatusList(serializers.Field):
    """``status=failed,revoked`` (or the parameter repeated) as a list of known statuses."""

    def to_internal_value(self, data: Any) -> list[str]:
        values = data if isinstance(data, list) else [data]
        statuses = [part.strip() for value in values for part in str(value).split(",") if part.strip()]
        unknown = sorted(set(statuses) - set(FlowRunStatus.values))
        if unknown:
            raise serializers.ValidationError(
                f"unknown status {', '.join(unknown)} (one of: {', '.join(FlowRunStatus.values)})"
            )
        return statuses


class RunFilterParameters(serializers.Serializer[dict[str, Any]]):
    flow = serializers.CharField(required=False, max_length=255)
    status = _StatusList(required=False)
    revision = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    # DRF pops declared fields off the class, so this does not shadow Field.parent at run time
    parent = serializers.CharField(required=False, max_length=255)  # type: ignore[assignment]
    top_level = serializers.BooleanField(required=False, allow_null=True, default=None)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    started_after = serializers.DateTimeField(required=False)
    started_before = serializers.DateTimeField(required=False)


#: parameter -> (queryset lookup, schema type, description)
_PARAMETERS: dict[str, tuple[str, dict[str, Any], str]] = {
    "flow": ("flow_name", {"type": "string"}, "Runs of this flow."),
    "status": (
        "status__in",
        {"type": "string"},
        f"Comma-separated statuses ({', '.join(FlowRunStatus.values)}).",
    ),
    "revision": ("revision__number", {"type": "integer", "minimum": 1}, "Runs pinned to this configuration revision."),
    "parent": ("parent_run_id", {"type": "string"}, "Sub-flow runs started by this run."),
    "top_level": ("parent_run__isnull", {"type": "boolean"}, "true: runs started by a user; false: sub-flows."),
    "created_after": ("created_at__gte", {"type": "string", "format": "date-time"}, "Created at or after (ISO 8601)."),
    "created_before": ("created_at__lt", {"type": "string", "format": "date-time"}, "Created before (ISO 8601)."),
    "started_after": ("started_at__gte", {"type": "string", "format": "date-time"}, "Started at or after (ISO 8601)."),
    "started_before": ("started_at__lt", {"type": "string", "format": "date-time"}, "Started before (ISO 8601)."),
}


class RunFilterBackend(BaseFilterBackend):
    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        raw: dict[str, Any] = {}
        for name in _PARAMETERS:
            if name in request.query_params:
                values = request.query_params.getlist(name)
                raw[name] = values if name == "status" else values[-1]
        params = RunFilterParameters(data=raw)
        params.is_valid(raise_exception=True)
        lookups = {
            _PARAMETERS[name][0]: value
            for name, value in params.validated_data.items()
            if value is not None and name in raw
        }
        return queryset.filter(**lookups)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {"name": name, "required": False, "in": "query", "description": description, "schema": schema}
            for name, (_, schema, description) in _PARAMETERS.items()
        ]
