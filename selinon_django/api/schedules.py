"""``/api/schedules/``: flows on a schedule, kept in Celery beat's table (django-celery-beat).

Registered only when ``django_celery_beat`` is installed. An entry has the YAML's shape (``flow``,
``node_args``, one of ``cron``/``interval``/``solar``, ``on_overlap``, ``on_missed``...), is
checked by the same rules as the YAML's ``schedules:`` (:mod:`selinon_django.config.schedules`),
and its recent ticks come with it. Entries loaded from a configuration (``selinon:<name>``) belong
to that configuration: over the API they can only be switched on or off.

Permissions: reading needs ``django_celery_beat.view_periodictask``; creating or changing one needs
``add_periodictask``/``change_periodictask`` and ``selinon_django.add_flowrun`` (a schedule starts
runs); deleting needs ``delete_periodictask``.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import jsonschema
from django.db import transaction
from django.db.models import QuerySet
from django_celery_beat.models import PeriodicTask
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from selinon_django.api.permissions import START_RUNS
from selinon_django.api.views import SelinonAPIView
from selinon_django.config.schedules import schedule_problems
from selinon_django.config.validation import load_schema
from selinon_django.models import ScheduleTick
from selinon_django.revisions import NoRevisionError, current_revision
from selinon_django.scheduling import SCHEDULE_PREFIX, SCHEDULE_TASK, describe_schedule, write_schedule

BEAT = "django_celery_beat"
VIEW = f"{BEAT}.view_periodictask"
#: the fields a configuration-managed entry may change over the API
MANAGED_CHANGEABLE = {"enabled"}


@lru_cache(maxsize=1)
def _validator() -> Any:
    schema = load_schema()
    return jsonschema.Draft202012Validator({"$ref": "#/$defs/schedule", "$defs": schema["$defs"]})


class ScheduleSerializer(serializers.Serializer[Any]):
    name = serializers.RegexField(r"^[A-Za-z0-9_.:-]+$", max_length=180, help_text="Unique; 'selinon:' is reserved.")
    flow = serializers.CharField(max_length=255)
    node_args = serializers.JSONField(required=False, allow_null=True)
    cron = serializers.CharField(required=False, max_length=200, help_text="minute hour day-of-month month day-of-week")
    interval = serializers.DictField(required=False, help_text='{"every": 10, "period": "minutes"}')
    solar = serializers.DictField(required=False, help_text='{"event": "sunrise", "latitude": .., "longitude": ..}')
    timezone = serializers.CharField(required=False, max_length=63)
    enabled = serializers.BooleanField(required=False, default=True)
    on_overlap = serializers.ChoiceField(["skip", "queue"], required=False, default="skip")
    on_missed = serializers.ChoiceField(["run_once", "skip"], required=False, default="run_once")
    missed_grace = serializers.FloatField(required=False, min_value=0.001, max_value=1e9)
    managed_by_configuration = serializers.BooleanField(read_only=True)
    last_run_at = serializers.DateTimeField(read_only=True, allow_null=True)
    total_run_count = serializers.IntegerField(read_only=True)
    recent_ticks = serializers.ListField(child=serializers.DictField(), read_only=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        ticks = ScheduleTick.objects.filter(schedule=instance.name).order_by("-at", "-id")[:5]
        return {
            "name": instance.name,
            **describe_schedule(instance),
            "managed_by_configuration": instance.name.startswith(SCHEDULE_PREFIX),
            "last_run_at": instance.last_run_at,
            "total_run_count": instance.total_run_count,
            "recent_ticks": [{"at": t.at, "outcome": t.outcome, "run": t.run_id, "detail": t.detail} for t in ticks],
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The YAML's rules: the schema of one schedule, then its checks against the current flows."""
        spec = {key: value for key, value in attrs.items() if key != "name"}
        errors = sorted(_validator().iter_errors(spec), key=lambda e: list(e.absolute_path))
        if errors:
            raise ValidationError({
                ".".join(str(p) for p in e.absolute_path) or "non_field_errors": [
                    "give exactly one of cron, interval or solar" if e.validator == "oneOf" else e.message
                ]
                for e in errors
            })
        try:
            flows = current_revision().system_config().flows
        except NoRevisionError as error:
            raise ValidationError({"flow": [str(error)]}) from None
        problems = schedule_problems(spec, flows)
        if problems:
            raise ValidationError({key: [message] for key, message in problems})
        return attrs


def _spec(attrs: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in attrs.items() if key != "name"}


@extend_schema_view(
    list=extend_schema(summary="Scheduled flows (Celery beat entries that start a flow)"),
    retrieve=extend_schema(summary="A scheduled flow with its recent ticks"),
    create=extend_schema(summary="Schedule a flow"),
    partial_update=extend_schema(summary="Change a scheduled flow (configuration entries: only 'enabled')"),
    destroy=extend_schema(summary="Remove a scheduled flow (not one loaded from the configuration)"),
)
class ScheduleViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
    SelinonAPIView,
):
    serializer_class = ScheduleSerializer
    lookup_field = "name"
    lookup_value_regex = "[A-Za-z0-9_.:-]+"
    http_method_names = ("get", "post", "patch", "delete", "head", "options")  # type: ignore[assignment]
    action_permissions = {
        "default": (VIEW,),
        "create": (VIEW, f"{BEAT}.add_periodictask", START_RUNS),
        "partial_update": (VIEW, f"{BEAT}.change_periodictask", START_RUNS),
        "destroy": (VIEW, f"{BEAT}.delete_periodictask"),
    }

    def get_queryset(self) -> QuerySet[PeriodicTask]:
        related = ("crontab", "interval", "solar")
        return PeriodicTask.objects.filter(task=SCHEDULE_TASK).select_related(*related).order_by("name")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        name = serializer.validated_data["name"]
        if name.startswith(SCHEDULE_PREFIX):
            raise ValidationError({"name": [f"names starting with {SCHEDULE_PREFIX!r} belong to the configuration"]})
        if PeriodicTask.objects.filter(name=name).exists():
            raise ValidationError({"name": ["a beat entry of this name exists"]})
        with transaction.atomic():
            write_schedule(name, _spec(serializer.validated_data), f"scheduled over the API by {request.user}")
        body = self.get_serializer(self.get_queryset().get(name=name)).data
        return Response(body, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        task = self.get_object()
        if task.name.startswith(SCHEDULE_PREFIX):
            unknown = set(request.data) - MANAGED_CHANGEABLE if isinstance(request.data, dict) else {"body"}
            if unknown:
                raise ValidationError({"non_field_errors": [
                    "this schedule comes from the configuration: change the YAML and run selinon_load "
                    "(only 'enabled' can be changed here)"
                ]})
        current = {"name": task.name, **describe_schedule(task)}
        if isinstance(request.data, dict) and {"cron", "interval", "solar"} & set(request.data):
            for kind in ("cron", "interval", "solar", "timezone"):
                current.pop(kind, None)
        serializer = self.get_serializer(data={**current, **(request.data if isinstance(request.data, dict) else {})})
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            write_schedule(task.name, _spec(serializer.validated_data), task.description)
        return Response(self.get_serializer(self.get_queryset().get(name=task.name)).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        task = self.get_object()
        if task.name.startswith(SCHEDULE_PREFIX):
            return Response({"detail": "this schedule comes from the configuration: remove it from the YAML"},
                            status=status.HTTP_409_CONFLICT)
        task.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
