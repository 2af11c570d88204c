"""What tasks logged, kept per node run in chunks (a running task's lines are written in batches).

One row is one batch of lines of one attempt of one node run: a task that logs a thousand lines
costs a few rows, and a task that logs nothing costs none. Lines are stored as they will be
shown, with URL passwords and secret-named values already masked (users who may only *view* runs
read them). The size of a node's log is bounded (``TASK_LOG_MAX_BYTES``); past it a marker line
says how much was dropped. Deleting a run deletes its log rows (Django's cascade: ``selinon_prune``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import models
from django.utils import timezone

from selinon_django.models.runs import FlowRun


class NodeRunLog(models.Model):
    """A batch of log lines of one attempt of one node run."""

    #: no database constraint (like trace events: rows written while the run is hot); deleting
    #: a run still deletes its log rows through Django's cascade
    flow_run = models.ForeignKey(
        FlowRun, on_delete=models.CASCADE, related_name="node_logs", db_index=False, db_constraint=False
    )
    #: not a foreign key: indexed with ``id`` below, and a row must not hold the node's row lock
    node_run_id = models.CharField(max_length=255)
    #: the node's attempt (1 = first) the lines were logged in
    attempt = models.PositiveIntegerField(default=1)
    #: when the first line of the batch was logged
    created_at = models.DateTimeField(default=timezone.now)
    #: ``[[unix time, level name, logger name, message], ...]``
    lines = models.JSONField(default=list)
    #: bytes of message text in the batch (what ``TASK_LOG_MAX_BYTES`` counts)
    size = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("id",)
        indexes = [
            # a node's log (node-run page, REST endpoint, the size already kept)
            models.Index(fields=("node_run_id", "id"), name="selinon_log_node"),
            # a run's logs (run page), newest batches first
            models.Index(fields=("flow_run", "id"), name="selinon_log_run"),
        ]

    def __str__(self) -> str:
        return f"log of {self.node_run_id} attempt {self.attempt} ({len(self.lines)} lines)"

    def entries(self) -> list[LogLine]:
        """The batch's lines as objects (what the pages and the REST API show)."""
        return [LogLine.from_stored(item, self.attempt) for item in self.lines or ()]


class LogLine:
    """One stored line: time, level, logger, message (and the attempt it belongs to)."""

    __slots__ = ("attempt", "level", "logger", "message", "time")

    def __init__(self, time: datetime, level: str, logger: str, message: str, attempt: int) -> None:
        self.time = time
        self.level = level
        self.logger = logger
        self.message = message
        self.attempt = attempt

    @classmethod
    def from_stored(cls, item: Any, attempt: int) -> LogLine:
        moment, level, logger, message = [*item, 0, "", "", ""][:4]
        try:
            when = datetime.fromtimestamp(float(moment), tz=UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            when = datetime.fromtimestamp(0, tz=UTC)
        return cls(when, str(level), str(logger), str(message), attempt)

    def as_dict(self) -> dict[str, Any]:
        return {"time": self.time, "level": self.level, "logger": self.logger, "message": self.message,
                "attempt": self.attempt}
