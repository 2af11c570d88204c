"""Flow runs and node runs: what happened, kept in the database.

The flow-run row is authoritative for the dispatcher's state: a step locks it with
``select_for_update``, compares ``state_version`` with the message and writes the new state, so a
stale or duplicated dispatcher message is only a harmless wake-up. A node-run row exists per node
instance; its status follows Celery's task events so the admin reads like Flower.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from selinon_django.models.definitions import ConfigRevision

#: the dispatcher state keys (see REFERENCE-BEHAVIOUR.md "The dispatcher's state")
STATE_KEYS = ("active_nodes", "finished_nodes", "failed_nodes", "waiting_edges", "triggered_edges")


def empty_state() -> dict[str, Any]:
    """The state of a flow run that has not made its first step."""
    return {"active_nodes": [], "finished_nodes": {}, "failed_nodes": {}, "waiting_edges": [], "triggered_edges": []}


class FlowRunStatus(models.TextChoices):
    PENDING = "pending", "pending"
    RUNNING = "running", "running"
    RETRYING = "retrying", "retrying"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"
    REVOKED = "revoked", "revoked"


FLOW_FINISHED_STATUSES = (FlowRunStatus.SUCCEEDED, FlowRunStatus.FAILED, FlowRunStatus.REVOKED)
FLOW_UNFINISHED_STATUSES = (FlowRunStatus.PENDING, FlowRunStatus.RUNNING, FlowRunStatus.RETRYING)


class FlowRunQuerySet(models.QuerySet["FlowRun"]):
    def unfinished(self) -> FlowRunQuerySet:
        return self.filter(status__in=FLOW_UNFINISHED_STATUSES)

    def finished(self) -> FlowRunQuerySet:
        return self.filter(status__in=FLOW_FINISHED_STATUSES)

    def for_flow(self, flow_name: str) -> FlowRunQuerySet:
        return self.filter(flow_name=flow_name)

    def roots(self) -> FlowRunQuerySet:
        """Runs started by a user (not sub-flows of another run)."""
        return self.filter(parent_run__isnull=True)

    def locked(self, *, skip_locked: bool = False, nowait: bool = False) -> FlowRunQuerySet:
        """``select_for_update`` limited to this table (joins must not lock revisions)."""
        return self.select_for_update(skip_locked=skip_locked, nowait=nowait, of=("self",))


FlowRunManager = models.Manager.from_queryset(FlowRunQuerySet)


class FlowRun(models.Model):
    """One run of a flow or a sub-flow; ``id`` is the dispatcher id that ``run_flow`` returns."""

    Status = FlowRunStatus

    id = models.CharField(primary_key=True, max_length=255)
    # Index options on this model are chosen in Meta.indexes (see its comment): a flow-run row
    # is rewritten on every hop without HOT, so every index is paid for on every hop.
    flow_name = models.CharField(max_length=255)
    revision = models.ForeignKey(ConfigRevision, on_delete=models.PROTECT, related_name="flow_runs", db_index=False)
    parent_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="child_runs", db_index=False
    )
    root_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="tree_runs", db_index=False
    )
    #: id of the node run in the parent flow that stands for this sub-flow
    parent_node_id = models.CharField(max_length=255, null=True, blank=True)
    node_args = models.JSONField(null=True, blank=True)
    #: the ``parent`` mapping the run was started with (Selinon's shape)
    parent = models.JSONField(null=True, blank=True)
    selective = models.JSONField(null=True, blank=True)
    state = models.JSONField(default=empty_state)
    state_version = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=FlowRunStatus.choices, default=FlowRunStatus.PENDING)
    retried_count = models.PositiveIntegerField(default=0)
    migration_version = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    #: when the dispatcher looks again if no node event wakes it first (the sampling safety net)
    next_wakeup_at = models.DateTimeField(null=True, blank=True)
    #: the W3C trace context of the run's span (trace id, parent span, flags) when OpenTelemetry
    #: is on (``SELINON_DJANGO["OPENTELEMETRY"]``): see selinon_django/runtime/trace_context.py
    trace_context = models.JSONField(null=True, blank=True, editable=False)

    objects = FlowRunManager()

    class Meta:
        ordering = ("-created_at",)
        # Every UPDATE of a flow run changes ``status`` or ``next_wakeup_at`` (both indexed), so it
        # is never a HOT update: each index below gets a new entry per update (one per hop), unless
        # the new row version is outside a partial index's condition. Hence: no index that no query
        # needs, and partial indexes wherever the queries only look at a minority of rows. No
        # revision index: revisions are never deleted (PROTECT never checks) and "runs of revision
        # N" is an occasional list filter, served well enough by the newest-first scan.
        # tests/unit/models/test_indexes.py pins the exact set of indexes.
        indexes = [
            # lists newest first (admin, REST API default ordering)
            models.Index(fields=("created_at",), name="selinon_flowrun_created"),
            # "runs of flow X, newest first" and the admin's list of flow names
            models.Index(fields=("flow_name", "created_at"), name="selinon_flowrun_flow_created"),
            # status filters of finished runs (failed ones above all) and the prune command;
            # a running run's hops never touch it (unfinished runs are in the wake-up index)
            models.Index(
                fields=("status", "created_at"),
                name="selinon_flowrun_finished",
                condition=Q(status__in=FLOW_FINISHED_STATUSES),
            ),
            # the sweeper's due runs (and any "unfinished runs" scan: few rows)
            models.Index(
                fields=("next_wakeup_at",),
                name="selinon_flowrun_wakeup",
                condition=Q(status__in=FLOW_UNFINISHED_STATUSES),
            ),
            # sub-flows of a run (run page, report, cancel, cascade delete); top-level runs skip it
            models.Index(fields=("parent_run",), name="selinon_flowrun_parent", condition=Q(parent_run__isnull=False)),
            # a run tree (prune, cascade delete); top-level runs skip it
            models.Index(fields=("root_run",), name="selinon_flowrun_root", condition=Q(root_run__isnull=False)),
            # deleting a user (SET NULL); runs started by code have no creator and skip it
            models.Index(fields=("created_by",), name="selinon_flowrun_creator", condition=Q(created_by__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.flow_name} {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FLOW_FINISHED_STATUSES

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class NodeRunStatus(models.TextChoices):
    """Celery's task events (task-sent, -received, -started, -succeeded, -failed, -retried, -revoked)."""

    PENDING = "pending", "pending"
    SENT = "sent", "sent"
    RECEIVED = "received", "received"
    STARTED = "started", "started"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"
    RETRIED = "retried", "retried"
    REVOKED = "revoked", "revoked"


NODE_FINISHED_STATUSES = (NodeRunStatus.SUCCEEDED, NodeRunStatus.FAILED, NodeRunStatus.REVOKED)
NODE_UNFINISHED_STATUSES = (
    NodeRunStatus.PENDING,
    NodeRunStatus.SENT,
    NodeRunStatus.RECEIVED,
    NodeRunStatus.STARTED,
    NodeRunStatus.RETRIED,
)


#: the statuses the sweeper looks for (lost messages, attempts killed by a time limit)
NODE_INFLIGHT_STATUSES = (NodeRunStatus.SENT, NodeRunStatus.RETRIED, NodeRunStatus.STARTED)


class NodeKind(models.TextChoices):
    TASK = "task", "task"
    FLOW = "flow", "flow"


class NodeRunQuerySet(models.QuerySet["NodeRun"]):
    def unfinished(self) -> NodeRunQuerySet:
        return self.filter(status__in=NODE_UNFINISHED_STATUSES)

    def finished(self) -> NodeRunQuerySet:
        return self.filter(status__in=NODE_FINISHED_STATUSES)

    def for_flow_run(self, flow_run: FlowRun | str) -> NodeRunQuerySet:
        return self.filter(flow_run=flow_run)

    def named(self, name: str) -> NodeRunQuerySet:
        return self.filter(name=name)

    def locked(self, *, skip_locked: bool = False, nowait: bool = False) -> NodeRunQuerySet:
        return self.select_for_update(skip_locked=skip_locked, nowait=nowait, of=("self",))


NodeRunManager = models.Manager.from_queryset(NodeRunQuerySet)


class NodeRun(models.Model):
    """One instance of a node: a Celery task (``id`` = task id) or a sub-flow (``id`` = its run id)."""

    Status = NodeRunStatus
    Kind = NodeKind

    id = models.CharField(primary_key=True, max_length=255)
    #: indexed by the (flow_run, name) index of Meta, not by one of its own
    flow_run = models.ForeignKey(FlowRun, on_delete=models.CASCADE, related_name="node_runs", db_index=False)
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=8, choices=NodeKind.choices, default=NodeKind.TASK)
    status = models.CharField(max_length=16, choices=NodeRunStatus.choices, default=NodeRunStatus.PENDING)
    #: the ``parent`` mapping the node was started with ({node name: id} or nested for sub-flows)
    parent = models.JSONField(null=True, blank=True)
    node_args = models.JSONField(null=True, blank=True)
    #: the result when no storage holds it (JSON-serialisable results of storage-less tasks)
    result = models.JSONField(null=True, blank=True)
    #: name of the storage that holds the result (None: in ``result`` or nowhere)
    result_storage = models.CharField(max_length=255, null=True, blank=True)
    exception = models.TextField(blank=True, default="")
    traceback = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=255, blank=True, default="")
    #: the Celery task (message) this node ran under when it ran inline, right after the node
    #: before it, in the same worker process (see ``RUN_SUCCESSORS_INLINE``); None: its own
    #: message, whose task id is ``id``. Revoking a node's task revokes this one.
    carried_by = models.CharField(
        max_length=255, null=True, blank=True,
        help_text="The Celery task this node ran under when not its own (run inline after the node before it, "
                  "or listed in a message that carried several nodes).",
    )
    countdown = models.FloatField(null=True, blank=True)
    is_fallback = models.BooleanField(default=False)
    is_nowait = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = NodeRunManager()

    class Meta:
        ordering = ("created_at",)
        # A node run is inserted and updated 2-3 times (status changes: never HOT), so each index
        # costs 3-4 entries per node. No created_at index for the admin's node list: its paginator
        # counts the whole (filtered) table anyway, so the index would save a sort, not the scan,
        # at a cost on every hop.
        indexes = [
            # a run's nodes (run page, report, graph, cancel, triggers, cascade delete)
            models.Index(fields=("flow_run", "name"), name="selinon_noderun_flow_name"),
            # the sweeper's lost and time-limited tasks; a finished node leaves it, so it stays
            # as small as the number of nodes in flight
            models.Index(
                fields=("status",),
                name="selinon_noderun_inflight",
                condition=Q(status__in=NODE_INFLIGHT_STATUSES),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in NODE_FINISHED_STATUSES

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
