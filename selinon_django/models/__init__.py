"""Database models: configuration revisions (definitions) and runs."""

from selinon_django.models.definitions import (
    ConfigRevision,
    ConfigSource,
    EdgeDefinition,
    FailureDefinition,
    FlowDefinition,
    StorageDefinition,
    TaskDefinition,
)
from selinon_django.models.immutable import ImmutableRowError
from selinon_django.models.logs import LogLine, NodeRunLog
from selinon_django.models.outbox import OutboxMessage, ThrottleSlot
from selinon_django.models.results import StoredResult
from selinon_django.models.runs import (
    FLOW_FINISHED_STATUSES,
    FLOW_UNFINISHED_STATUSES,
    NODE_FINISHED_STATUSES,
    NODE_UNFINISHED_STATUSES,
    FlowRun,
    FlowRunStatus,
    NodeKind,
    NodeRun,
    NodeRunStatus,
    empty_state,
)
from selinon_django.models.schedules import ScheduleTick
from selinon_django.models.tracing import TraceEventRecord

__all__ = [
    "FLOW_FINISHED_STATUSES",
    "FLOW_UNFINISHED_STATUSES",
    "NODE_FINISHED_STATUSES",
    "NODE_UNFINISHED_STATUSES",
    "ConfigRevision",
    "ConfigSource",
    "EdgeDefinition",
    "FailureDefinition",
    "FlowDefinition",
    "FlowRun",
    "FlowRunStatus",
    "ImmutableRowError",
    "LogLine",
    "NodeKind",
    "NodeRun",
    "NodeRunLog",
    "NodeRunStatus",
    "OutboxMessage",
    "ScheduleTick",
    "StorageDefinition",
    "StoredResult",
    "TaskDefinition",
    "ThrottleSlot",
    "TraceEventRecord",
    "empty_state",
]
from selinon_django.models.dashboard import RunDashboard  # noqa: F401
from selinon_django.models.history import RunAction, RunAttempt  # noqa: F401
from selinon_django.models.migrations import FlowMigrationRecord  # noqa: F401
from selinon_django.models.triggers import FiredTrigger, TriggerSession, TriggerTaskInstance  # noqa: F401
from selinon_django.models.workers import WorkersAndQueues  # noqa: F401
