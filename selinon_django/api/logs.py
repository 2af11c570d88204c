"""``/api/node-runs/{id}/logs/``: what a task logged, batch by batch, oldest first.

A batch is what the worker wrote at once (the lines of a second or so of a running task). The
list is paginated like every list of the API; ``?after=<batch id>`` returns only the batches
written since the one a client saw last, so following a running task is one cheap request per
poll. The node run must be visible to the user (``view_flowrun``, and ``API_RUNS_OWN_ONLY``).
"""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from selinon_django.api.filters import IntegerFilter
from selinon_django.api.permissions import VIEW_RUNS, restrict_runs
from selinon_django.api.views import SelinonAPIView
from selinon_django.models import NodeRun, NodeRunLog


class LogLineSerializer(serializers.Serializer[Any]):
    time = serializers.DateTimeField(help_text="When the line was logged.")
    level = serializers.CharField(help_text="DEBUG, INFO, WARNING, ERROR or CRITICAL.")
    logger = serializers.CharField(help_text="The logger's name (a task's self.log is named after its class).")
    message = serializers.CharField(help_text="The message, with a traceback when one was logged; URL passwords "
                                              "and secret-named values masked.")


class NodeRunLogSerializer(serializers.ModelSerializer[NodeRunLog]):
    id = serializers.IntegerField(read_only=True, help_text="The batch's id: pass it as `after` to read what follows.")
    lines = serializers.SerializerMethodField()

    class Meta:
        model = NodeRunLog
        fields = ("id", "attempt", "created_at", "lines")
        read_only_fields = fields

    @extend_schema_field(LogLineSerializer(many=True))
    def get_lines(self, batch: NodeRunLog) -> list[dict[str, Any]]:
        return [dict(LogLineSerializer(line.as_dict()).data) for line in batch.entries()]


class NodeRunLogFilterSet(filters.FilterSet):
    """``?after=<batch id>``: what was written since the batch a client read last."""

    after = IntegerFilter(field_name="id", lookup_expr="gt", min_value=0, max_value=2**63 - 1,
                          help_text="Only batches with a larger id (the id of the last batch you read).")

    class Meta:
        model = NodeRunLog
        fields: list[str] = []


class NodeRunLogViewSet(SelinonAPIView):
    """The log of one node run."""

    serializer_class = NodeRunLogSerializer
    #: the model the schema's filters are described from (the rows come from get_queryset)
    queryset = NodeRunLog.objects.none()
    filter_backends = (DjangoFilterBackend,)
    filterset_class = NodeRunLogFilterSet
    action_permissions = {"default": (VIEW_RUNS,)}

    def get_queryset(self) -> QuerySet[NodeRunLog]:
        node_id = str(self.kwargs["node_run_id"])
        visible = restrict_runs(NodeRun.objects.filter(pk=node_id), self.request.user, prefix="flow_run__")
        if not visible.exists():
            raise NotFound(f"No node run {node_id}.")
        return NodeRunLog.objects.filter(node_run_id=node_id).order_by("id")

    @extend_schema(summary="What the node run's task logged, oldest first (batches of lines)")
    def list(self, request: Request, node_run_id: str) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
