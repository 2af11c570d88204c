"""Serializers of the REST API: what each endpoint reads and returns.

Flow details and run reports are built as plain dicts (from the configuration and from
:func:`~selinon_django.runtime.report.run_report`); their serializers exist so the OpenAPI schema
describes them exactly.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from selinon_django.conf import selinon_settings
from selinon_django.config.model import SystemConfig
from selinon_django.config.secrets import mask_secrets
from selinon_django.models import ConfigRevision, ConfigSource, FlowRun, NodeRun, TraceEventRecord
from selinon_django.secret_display import source_text_for

# --- flows -------------------------------------------------------------------------------------


class FlowSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField()
    revision = serializers.IntegerField(help_text="Number of the configuration revision the flow belongs to.")
    queue = serializers.CharField(allow_blank=True, help_text="Dispatcher queue as written (empty: the default).")
    url = serializers.CharField()


class FlowNodeSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=["task", "flow"])


class FlowEdgeSerializer(serializers.Serializer[dict[str, Any]]):
    index = serializers.IntegerField(help_text="Position in the flow's edge list (its identity in run states).")
    from_nodes = serializers.ListField(child=serializers.CharField(), help_text="Empty: a starting edge.")
    to_nodes = serializers.ListField(child=serializers.CharField())
    condition = serializers.JSONField(allow_null=True, help_text="The condition as written in YAML (null: always).")
    condition_text = serializers.CharField()
    foreach = serializers.JSONField(allow_null=True)
    selective = serializers.JSONField(allow_null=True)


class FlowFailureSerializer(serializers.Serializer[dict[str, Any]]):
    index = serializers.IntegerField()
    nodes = serializers.ListField(child=serializers.CharField())
    fallback = serializers.JSONField(help_text="Node names to start, or true (recover without running anything).")
    condition = serializers.JSONField(allow_null=True)
    condition_text = serializers.CharField()


class FlowDetailSerializer(FlowSerializer):
    options = serializers.JSONField(help_text="Flags and settings of the flow (propagate_*, nowait, sampling...).")
    nodes = FlowNodeSerializer(many=True)
    edges = FlowEdgeSerializer(many=True)
    failures = FlowFailureSerializer(many=True)


def _condition_text(default: bool, condition: Any) -> str:
    from selinon_django.graph import condition_text

    return "True" if default else condition_text(condition)


def flow_detail(revision: ConfigRevision, config: SystemConfig, name: str, options: Any, url: str) -> dict[str, Any]:
    """The detail of flow ``name``: nodes, edges and failures with their conditions (secrets in
    its options, a cache's configuration say, masked)."""
    flow = config.flows[name]
    written: dict[str, Any] = next(
        (f for f in revision.normalised.get("flow-definitions", []) if f.get("name") == name), {}
    )
    written_edges = written.get("edges", [])
    written_failures = written.get("failures", [])

    def at(items: list[Any], index: int) -> dict[str, Any]:
        return items[index] if index < len(items) and isinstance(items[index], dict) else {}

    return {
        "name": name,
        "revision": revision.number,
        "queue": flow.queue_template or flow.queue or "",
        "url": url,
        "options": mask_secrets(options),
        "nodes": [{"name": node, "kind": config.node_kind(node)} for node in sorted(flow.nodes())],
        "edges": [
            {
                "index": edge.index,
                "from_nodes": list(edge.from_),
                "to_nodes": list(edge.to),
                "condition": mask_secrets(at(written_edges, edge.index).get("condition")),
                "condition_text": _condition_text(edge.condition_default, edge.condition),
                "foreach": at(written_edges, edge.index).get("foreach"),
                "selective": at(written_edges, edge.index).get("selective"),
            }
            for edge in flow.edges
        ],
        "failures": [
            {
                "index": index,
                "nodes": list(failure.nodes_order or sorted(failure.nodes)),
                "fallback": True if failure.fallback is True else list(failure.fallback),
                "condition": mask_secrets(at(written_failures, index).get("condition")),
                "condition_text": _condition_text(failure.condition_default, failure.condition),
            }
            for index, failure in enumerate(flow.failures)
        ],
    }


# --- revisions ---------------------------------------------------------------------------------


class RevisionSerializer(serializers.ModelSerializer[ConfigRevision]):
    url = serializers.SerializerMethodField()
    created_by = serializers.SerializerMethodField()
    is_current = serializers.SerializerMethodField()

    class Meta:
        model = ConfigRevision
        fields = ("number", "url", "content_hash", "created_at", "created_by", "created_by_name", "comment",
                  "is_current")

    def get_url(self, revision: ConfigRevision) -> str:
        return _absolute(self.context, reverse("selinon-revision-detail", args=[revision.number]))

    @extend_schema_field(OpenApiTypes.STR)
    def get_created_by(self, revision: ConfigRevision) -> str | None:
        user = revision.created_by
        return user.get_username() if user is not None else None

    def get_is_current(self, revision: ConfigRevision) -> bool:
        return revision.number == self.context.get("current_number")


class SourceSerializer(serializers.ModelSerializer[ConfigSource]):
    """A source file; its literal secrets are masked unless the requesting user may add or change
    revisions (:mod:`selinon_django.secret_display`)."""

    class Meta:
        model = ConfigSource
        fields = ("order", "path", "role", "text")

    def to_representation(self, instance: ConfigSource) -> dict[str, Any]:
        data = dict(super().to_representation(instance))
        request = self.context.get("request")
        data["text"] = source_text_for(getattr(request, "user", None), data["text"])
        return data


class RevisionDetailSerializer(RevisionSerializer):
    sources = SourceSerializer(many=True, read_only=True)
    tasks = serializers.SerializerMethodField()
    storages = serializers.SerializerMethodField()
    flows = serializers.SerializerMethodField()

    class Meta(RevisionSerializer.Meta):
        fields = (*RevisionSerializer.Meta.fields, "tasks", "storages", "flows", "sources")  # type: ignore[assignment]

    def _names(self, revision: ConfigRevision, key: str) -> list[str]:
        return sorted(str(item["name"]) for item in revision.normalised.get(key, []))

    def get_tasks(self, revision: ConfigRevision) -> list[str]:
        return self._names(revision, "tasks")

    def get_storages(self, revision: ConfigRevision) -> list[str]:
        return self._names(revision, "storages")

    def get_flows(self, revision: ConfigRevision) -> list[str]:
        return self._names(revision, "flow-definitions")


#: characters of one uploaded file (the admin's upload form allows as many bytes)
MAX_UPLOAD_CHARS = 2_000_000
MAX_UPLOAD_FILES = 100


class UploadedFileSerializer(serializers.Serializer[dict[str, Any]]):
    path = serializers.CharField(max_length=1024, help_text="A name for the file (shown in error messages).")
    role = serializers.ChoiceField(
        choices=["nodes", "flows", "schema"],
        help_text="'schema': a JSON Schema file that a task's output_schema names (matched by path, or file name).",
    )
    text = serializers.CharField(
        trim_whitespace=False, max_length=MAX_UPLOAD_CHARS, help_text="The YAML text (JSON for a schema)."
    )


class RevisionUploadSerializer(serializers.Serializer[dict[str, Any]]):
    files = UploadedFileSerializer(many=True, allow_empty=False)
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    dry_run = serializers.BooleanField(required=False, default=False,
                                       help_text="Check the configuration only; write nothing.")

    def validate_files(self, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(files) > MAX_UPLOAD_FILES:
            raise serializers.ValidationError(f"at most {MAX_UPLOAD_FILES} files")
        paths = [f["path"] for f in files]
        if len(set(paths)) != len(paths):
            raise serializers.ValidationError("every file needs its own path")
        if not any(f["role"] == "nodes" for f in files):
            raise serializers.ValidationError("a configuration needs a file with role 'nodes'")
        return files


class RevisionUploadResultSerializer(serializers.Serializer[dict[str, Any]]):
    created = serializers.BooleanField(help_text="False: the content equals the current revision (or a dry run).")
    dry_run = serializers.BooleanField()
    revision = RevisionSerializer(allow_null=True)


class ConfigIssueSerializer(serializers.Serializer[dict[str, Any]]):
    file = serializers.CharField(allow_blank=True)
    path = serializers.CharField(allow_blank=True,
                                 help_text="Key path inside the file, e.g. flow-definitions[0].edges[1].")
    message = serializers.CharField()


class ConfigErrorSerializer(serializers.Serializer[dict[str, Any]]):
    detail = serializers.CharField()
    errors = ConfigIssueSerializer(many=True)  # type: ignore[assignment]  # a declared field, popped by DRF


class NamedChangesSerializer(serializers.Serializer[dict[str, Any]]):
    added = serializers.ListField(child=serializers.CharField())
    removed = serializers.ListField(child=serializers.CharField())
    changed = serializers.ListField(child=serializers.JSONField(), help_text="{name, before, after} per changed item.")


class FlowChangesSerializer(serializers.Serializer[dict[str, Any]]):
    added = serializers.ListField(child=serializers.CharField())
    removed = serializers.ListField(child=serializers.CharField())
    changed = serializers.ListField(
        child=serializers.JSONField(),
        help_text="{name, edges: {added, removed, changed}, failures: {added, removed, changed}, "
                  "options: {key: {before, after}}}. An edge joining the same nodes is one edge: edited, it is "
                  "listed under changed as {before, after} (fallbacks: the same nodes and fallback).",
    )


class RevisionDiffSerializer(serializers.Serializer[dict[str, Any]]):
    base = serializers.IntegerField()
    target = serializers.IntegerField()
    tasks = NamedChangesSerializer()
    storages = NamedChangesSerializer()
    flows = FlowChangesSerializer()
    global_ = serializers.JSONField(allow_null=True, help_text="{before, after} when the global section changed.")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["global"] = fields.pop("global_")
        return fields

    def to_representation(self, instance: dict[str, Any]) -> dict[str, Any]:
        # masked after diffing: a changed password still shows its storage as changed
        return cast(dict[str, Any], mask_secrets(super().to_representation(instance)))


# --- runs --------------------------------------------------------------------------------------


def _absolute(context: Mapping[str, Any], path: str) -> str:
    request = context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


class RunSerializer(serializers.ModelSerializer[FlowRun]):
    url = serializers.SerializerMethodField()
    revision = serializers.IntegerField(source="revision.number", read_only=True)
    parent_run = serializers.CharField(source="parent_run_id", read_only=True, allow_null=True)
    root_run = serializers.CharField(source="root_run_id", read_only=True, allow_null=True)
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = FlowRun
        fields = ("id", "url", "flow_name", "status", "revision", "parent_run", "root_run", "created_by",
                  "retried_count", "error", "created_at", "started_at", "finished_at")
        read_only_fields = fields

    def get_url(self, run: FlowRun) -> str:
        return _absolute(self.context, reverse("selinon-run-detail", args=[run.pk]))

    @extend_schema_field(OpenApiTypes.STR)
    def get_created_by(self, run: FlowRun) -> str | None:
        user = run.created_by
        return user.get_username() if user is not None else None


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode("utf-8"))


class RunCreateSerializer(serializers.Serializer[dict[str, Any]]):
    """Start a flow; with ``task_names`` only the part of the flow leading to those tasks runs."""

    flow_name = serializers.CharField(max_length=255)
    node_args = serializers.JSONField(required=False, allow_null=True, default=None,
                                      help_text="Any JSON value, passed to the flow's tasks.")
    task_names = serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, allow_empty=False,
        help_text="Selective run: run only what leads to these tasks.",
    )
    follow_subflows = serializers.BooleanField(required=False, default=False)
    run_subsequent = serializers.BooleanField(required=False, default=False)

    def validate_flow_name(self, value: str) -> str:
        config: SystemConfig | None = self.context.get("config")
        if config is None:
            raise serializers.ValidationError("no configuration is loaded yet")
        if value not in config.flows:
            raise serializers.ValidationError(f"unknown flow {value!r} in the current configuration revision")
        return value

    def validate_node_args(self, value: Any) -> Any:
        limit = selinon_settings().MAX_NODE_ARGS_BYTES
        size = _json_size(value)
        if size > limit:
            raise serializers.ValidationError(f"node_args are {size} bytes of JSON; the limit is {limit}")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        config: SystemConfig | None = self.context.get("config")
        names = attrs.get("task_names")
        if names is None:
            if attrs.get("follow_subflows") or attrs.get("run_subsequent"):
                raise serializers.ValidationError(
                    {"task_names": "follow_subflows and run_subsequent need task_names (a selective run)"}
                )
            return attrs
        assert config is not None  # validate_flow_name refused the request otherwise
        unknown = sorted({n for n in names if n not in config.tasks and n not in config.flows})
        if unknown:
            raise serializers.ValidationError({"task_names": f"unknown task {', '.join(unknown)}"})
        return attrs


class RunCreatedSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.CharField(help_text="The run id (the dispatcher id; the Celery result id of the flow).")
    url = serializers.CharField()
    flow_name = serializers.CharField()
    status = serializers.CharField()
    revision = serializers.IntegerField()


class RunActionSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.CharField()
    status = serializers.CharField()
    detail = serializers.CharField()


class ReportNodeSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=["task", "flow"])
    id = serializers.CharField()
    status = serializers.CharField()
    parent = serializers.JSONField(allow_null=True)  # type: ignore[assignment]  # a declared field, popped by DRF
    node_args = serializers.JSONField(required=False, allow_null=True)
    attempts = serializers.IntegerField(required=False)
    result = serializers.JSONField(required=False, allow_null=True)
    exception = serializers.CharField(required=False)
    fallback = serializers.BooleanField(required=False)
    nowait = serializers.BooleanField(required=False)
    run = serializers.JSONField(required=False, help_text="A sub-flow's own report (the same shape as the run).")
    url = serializers.CharField(required=False, help_text="The node run's detail (tasks only).")
    worker = serializers.CharField(required=False, allow_blank=True)
    sent_at = serializers.DateTimeField(required=False, allow_null=True)
    started_at = serializers.DateTimeField(required=False, allow_null=True)
    finished_at = serializers.DateTimeField(required=False, allow_null=True)


class RunReportSerializer(serializers.Serializer[dict[str, Any]]):
    """The run report tree (the shape ``selinon_run --report`` prints) with timings and links."""

    flow = serializers.CharField()
    id = serializers.CharField()
    status = serializers.CharField()
    revision = serializers.IntegerField()
    node_args = serializers.JSONField(allow_null=True)
    result = serializers.JSONField(allow_null=True)
    error = serializers.CharField(required=False)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    retried_count = serializers.IntegerField()
    nodes = ReportNodeSerializer(many=True)


class TraceEventSerializer(serializers.ModelSerializer[TraceEventRecord]):
    flow_run = serializers.CharField(source="flow_run_id", read_only=True, allow_null=True)

    class Meta:
        model = TraceEventRecord
        fields = ("id", "flow_run", "node_run_id", "event", "details", "created_at")
        read_only_fields = fields


class NodeRunSerializer(serializers.ModelSerializer[NodeRun]):
    flow_run = serializers.CharField(source="flow_run_id", read_only=True)
    flow_name = serializers.CharField(source="flow_run.flow_name", read_only=True)
    flow_run_url = serializers.SerializerMethodField()

    class Meta:
        model = NodeRun
        fields = ("id", "flow_run", "flow_name", "flow_run_url", "name", "kind", "status", "parent", "node_args",
                  "result", "result_storage", "exception", "traceback", "attempts", "worker", "carried_by",
                  "countdown", "is_fallback", "is_nowait", "created_at", "sent_at", "received_at", "started_at",
                  "finished_at")
        read_only_fields = fields

    def get_flow_run_url(self, node: NodeRun) -> str:
        return _absolute(self.context, reverse("selinon-run-detail", args=[node.flow_run_id]))
