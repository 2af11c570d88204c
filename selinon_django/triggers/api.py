"""REST API of triggers: sessions with their fired triggers and task instances, and firing.

Mount ``router.urls`` (or ``urlpatterns``) under the project's API prefix:

- ``GET  trigger-sessions/`` (paginated) and ``GET trigger-sessions/{key}/``: a session, its own
  configuration, its fired triggers (kwargs, when, source) and trigger-task instances (status,
  attempts, result, error, the flow run they started);
- ``POST trigger-sessions/{key}/fire/`` with ``{"trigger": name, "kwargs": {...}}``: fires it
  (the session is created on first use); answers 201 with the tasks it scheduled, 400 with
  the reason for bad input;
- ``GET trigger-task-instances/?session=KEY&status=S&name=N`` (paginated; ``status=S1,S2`` for several).

The viewsets are the API's own kind (:class:`~selinon_django.api.views.SelinonAPIView`): the
same authentication, JSON parser with its size and nesting limits, NUL refusal and pagination.
Reading needs ``selinon_django.view_triggersession``; firing ``add_firedtrigger`` and, when the
trigger is one that a flow-running trigger task waits for, ``add_flowrun`` as well: firing it
starts runs, which must not be a side door around the permission to start them. Every fire
counts against the run-start throttle (DRF scope ``selinon_runs``), shared with ``POST runs/``.
"""
from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django_filters import rest_framework as filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from selinon_django.api.filters import status_filter
from selinon_django.api.permissions import FIRE_TRIGGERS, START_RUNS, VIEW_TRIGGERS
from selinon_django.api.throttling import RUNS_SCOPE, RunStartThrottle
from selinon_django.api.views import SelinonAPIView
from selinon_django.conf import selinon_settings
from selinon_django.models.triggers import FiredTrigger, TriggerSession, TriggerTaskInstance, TriggerTaskStatus
from selinon_django.triggers.manager import TriggerKwargsError, fire, flows_started_by
from selinon_django.triggers.specs import TriggerConfigurationError

__all__ = ["router", "urlpatterns"]


class FiredTriggerSerializer(serializers.ModelSerializer):
    class Meta:
        model = FiredTrigger
        fields = ("id", "name", "kwargs", "source", "cascade_of", "fired_at")


class TriggerTaskInstanceSerializer(serializers.ModelSerializer):
    session: serializers.SlugRelatedField[TriggerSession] = serializers.SlugRelatedField(
        slug_field="key", read_only=True
    )

    class Meta:
        model = TriggerTaskInstance
        fields = (
            "id", "session", "name", "kind", "target", "status", "attempts", "max_retries", "trigger_kwargs",
            "result", "error", "flow_run", "created_at", "started_at", "finished_at",
        )


class TriggerSessionSerializer(serializers.ModelSerializer):
    class Meta:
        model = TriggerSession
        fields: tuple[str, ...] = ("key", "configuration", "created_at", "updated_at")


class TriggerSessionDetailSerializer(TriggerSessionSerializer):
    fired_triggers = FiredTriggerSerializer(many=True, read_only=True)
    task_instances = TriggerTaskInstanceSerializer(many=True, read_only=True)

    class Meta(TriggerSessionSerializer.Meta):
        fields = (*TriggerSessionSerializer.Meta.fields, "fired_triggers", "task_instances")


class FireSerializer(serializers.Serializer):
    trigger = serializers.CharField(max_length=255)
    kwargs = serializers.DictField(required=False, default=dict)

    def validate_kwargs(self, value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value, cls=DjangoJSONEncoder).encode())
        limit = selinon_settings().MAX_NODE_ARGS_BYTES
        if size > limit:
            raise serializers.ValidationError(f"kwargs are {size} bytes of JSON; at most {limit} are accepted")
        return value


def _valid_key(key: str) -> bool:
    """Session keys are stored as text: no NUL or other control characters (PostgreSQL refuses NUL)."""
    return 0 < len(key) <= 255 and key.isprintable()


class FiredSerializer(serializers.Serializer):
    session = serializers.CharField()
    trigger = serializers.CharField()
    scheduled = serializers.ListField(child=serializers.CharField(), help_text="Trigger tasks it scheduled.")


@extend_schema_view(
    list=extend_schema(summary="List trigger sessions, newest first"),
    retrieve=extend_schema(summary="A trigger session with its fired triggers and trigger-task instances"),
)
class TriggerSessionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, SelinonAPIView):
    lookup_field = "key"
    lookup_value_regex = "[^/]+"
    serializer_class = TriggerSessionSerializer
    throttle_scope = RUNS_SCOPE
    action_permissions = {"default": (VIEW_TRIGGERS,), "fire": (FIRE_TRIGGERS,)}

    def get_queryset(self) -> QuerySet[TriggerSession]:
        queryset = TriggerSession.objects.order_by("-created_at", "-pk")
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("fired_triggers", "task_instances")
        return queryset

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        if self.action == "retrieve":
            return TriggerSessionDetailSerializer
        if self.action == "fire":
            return FireSerializer
        return TriggerSessionSerializer

    def get_throttles(self) -> list[Any]:
        throttles = list(super().get_throttles())
        if self.action == "fire":  # a fire schedules work like a run start: the same budget
            throttles.append(RunStartThrottle())
        return throttles

    @extend_schema(
        summary="Fire a trigger in this session (created on first use)",
        description=(
            "Needs `selinon_django.add_firedtrigger`, and `selinon_django.add_flowrun` as well when a "
            "trigger task that runs a flow waits for this trigger. Throttled by the DRF scope "
            "`selinon_runs`, shared with starting runs."
        ),
        request=FireSerializer,
        responses={201: FiredSerializer, 400: OpenApiResponse(description="Bad input; nothing was recorded."),
                   403: OpenApiResponse(description="No permission to fire, or to start the flows it starts.")},
    )
    @action(detail=True, methods=["post"])
    def fire(self, request: Request, key: str | None = None) -> Response:
        """Fire a trigger in this session (created on first use)."""
        serializer = FireSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        trigger = serializer.validated_data["trigger"]
        if not _valid_key(str(key)):
            return Response(
                {"detail": "the session key must be 1 to 255 printable characters"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        flow_tasks = flows_started_by(str(key), trigger)
        if flow_tasks and not request.user.has_perm(START_RUNS):
            raise PermissionDenied(
                f"Firing {trigger!r} starts flows (trigger tasks {', '.join(flow_tasks)}): that needs the "
                f"{START_RUNS} permission as well."
            )
        try:
            scheduled = fire(str(key), trigger, serializer.validated_data["kwargs"], source=FiredTrigger.Source.API)
        except (TriggerKwargsError, TriggerConfigurationError) as error:
            return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)
        body = {"session": key, "trigger": trigger, "scheduled": scheduled}
        return Response(FiredSerializer(body).data, status=status.HTTP_201_CREATED)


class TriggerTaskInstanceFilterSet(filters.FilterSet):
    """``?session=KEY&status=S&name=N`` (an unknown status is a 400 naming it)."""

    session = filters.CharFilter(field_name="session__key", max_length=255,
                                 help_text="Instances of this session (its key).")
    status = status_filter(TriggerTaskStatus.choices, "Instances in any of these statuses (comma-separated, "
                                                      "or the parameter repeated).")
    name = filters.CharFilter(max_length=255, help_text="Instances of this trigger task.")

    class Meta:
        model = TriggerTaskInstance
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(summary="List trigger-task instances, newest first"),
    retrieve=extend_schema(summary="A trigger-task instance"),
)
class TriggerTaskInstanceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, SelinonAPIView):
    serializer_class = TriggerTaskInstanceSerializer
    filter_backends = (DjangoFilterBackend,)
    filterset_class = TriggerTaskInstanceFilterSet
    action_permissions = {"default": (VIEW_TRIGGERS,)}

    def get_queryset(self) -> QuerySet[TriggerTaskInstance]:
        return TriggerTaskInstance.objects.select_related("session").order_by("-created_at", "-pk")

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.action != "list":  # filters describe the list; a detail is looked up by id alone
            return queryset
        return super().filter_queryset(queryset)


router = DefaultRouter()
router.register("trigger-sessions", TriggerSessionViewSet, basename="selinon-trigger-session")
router.register("trigger-task-instances", TriggerTaskInstanceViewSet, basename="selinon-trigger-task-instance")

urlpatterns = router.urls
