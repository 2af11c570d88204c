"""REST API of triggers: sessions with their fired triggers and task instances, and firing.

Mount ``router.urls`` (or ``urlpatterns``) under the project's API prefix:

- ``GET  trigger-sessions/`` and ``GET trigger-sessions/{key}/``: a session, its own
  configuration, its fired triggers (kwargs, when, source) and trigger-task instances (status,
  attempts, result, error, the flow run they started);
- ``POST trigger-sessions/{key}/fire/`` with ``{"trigger": name, "kwargs": {...}}``: fires it
  (the session is created on first use); answers 201 with the tasks it scheduled, 400 with
  the reason for bad input;
- ``GET trigger-task-instances/?session=KEY&status=S&name=N``.

Reading needs an authenticated user; firing needs staff or the ``selinon_django.add_firedtrigger``
permission, since a trigger starts work.
"""
from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from selinon_django.api.views import AUTHENTICATION
from selinon_django.conf import selinon_settings
from selinon_django.models.triggers import FiredTrigger, TriggerSession, TriggerTaskInstance
from selinon_django.triggers.manager import TriggerKwargsError, fire
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


class CanFire(permissions.BasePermission):
    """Reading: ``view_triggersession``; firing: ``add_firedtrigger`` (like the other endpoints,
    model permissions, so a plain authenticated account sees nothing)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return bool(user.has_perm("selinon_django.view_triggersession"))
        return bool(user.has_perm("selinon_django.add_firedtrigger"))


class TriggerSessionViewSet(viewsets.ReadOnlyModelViewSet):
    authentication_classes = AUTHENTICATION
    permission_classes = (CanFire,)
    lookup_field = "key"
    lookup_value_regex = "[^/]+"

    def get_queryset(self) -> QuerySet[TriggerSession]:
        queryset = TriggerSession.objects.order_by("-created_at")
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("fired_triggers", "task_instances")
        return queryset

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        if self.action == "retrieve":
            return TriggerSessionDetailSerializer
        if self.action == "fire":
            return FireSerializer
        return TriggerSessionSerializer

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
        try:
            scheduled = fire(str(key), trigger, serializer.validated_data["kwargs"], source=FiredTrigger.Source.API)
        except (TriggerKwargsError, TriggerConfigurationError) as error:
            return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"session": key, "trigger": trigger, "scheduled": scheduled}, status=status.HTTP_201_CREATED)


class TriggerTaskInstanceViewSet(viewsets.ReadOnlyModelViewSet):
    authentication_classes = AUTHENTICATION
    permission_classes = (CanFire,)
    serializer_class = TriggerTaskInstanceSerializer

    def get_queryset(self) -> QuerySet[TriggerTaskInstance]:
        queryset = TriggerTaskInstance.objects.select_related("session").order_by("-created_at")
        params = self.request.query_params
        if params.get("session"):
            queryset = queryset.filter(session__key=params["session"])
        if params.get("status"):
            queryset = queryset.filter(status=params["status"])
        if params.get("name"):
            queryset = queryset.filter(name=params["name"])
        return queryset


router = DefaultRouter()
router.register("trigger-sessions", TriggerSessionViewSet, basename="selinon-trigger-session")
router.register("trigger-task-instances", TriggerTaskInstanceViewSet, basename="selinon-trigger-task-instance")

urlpatterns = router.urls
