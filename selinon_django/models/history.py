"""A run's history: its earlier tries and the actions people took on it.

A retried run goes on in the same row (``retry_flow``) or starts over in it (a flow's
``max_retry``), so the row only says how the *current* try is doing. Before a try is replaced, a
:class:`RunAttempt` row keeps what it was (status, error, times); its node runs stay where they
are and belong to the try during which they were created, so the run page can number the tries
as Airflow and Prefect do. A :class:`RunAction` row says who started, cancelled, retried or ran a
run again, through which surface and when: the admin, the REST API and the commands write one
per action (see :mod:`selinon_django.run_actions`). Both go with their run when it is pruned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from selinon_django.models.runs import FlowRun


class RunAttemptCause(models.TextChoices):
    #: ``retry_flow`` (admin, REST API, ``selinon_retry``): the run goes on from its failed nodes
    RETRY = "retry", "retried from the failed nodes"
    #: the flow's ``max_retry``: the dispatcher starts the flow over
    FLOW_RETRY = "flow_retry", "started over (max_retry)"


class RunAttempt(models.Model):
    """One earlier try of a run, written when the next one began (the current try is the row)."""

    Cause = RunAttemptCause

    run = models.ForeignKey(FlowRun, on_delete=models.CASCADE, related_name="attempts", db_index=False)
    status = models.CharField(max_length=16)
    error = models.TextField(blank=True, default="")
    finished_at = models.DateTimeField(null=True, blank=True)
    #: when the next try began: this try's node runs are those created before it (and at or after
    #: the previous try's ``retried_at``, the run's creation for the first try)
    retried_at = models.DateTimeField(default=timezone.now)
    cause = models.CharField(max_length=16, choices=RunAttemptCause.choices)

    class Meta:
        ordering = ("retried_at", "id")
        indexes = [models.Index(fields=("run", "retried_at"), name="selinon_attempt_run")]

    @classmethod
    def ended(cls, run: FlowRun, cause: str, at: datetime, *, status: str | None = None, error: str | None = None,
              failed_nodes: Any = None) -> RunAttempt:
        """The try ``run`` is on as it ended, its next one beginning ``at`` (not saved: a dispatcher
        step writes it in its batch, ``retry_flow`` saves it). ``failed_nodes`` ({name: [ids]}) go
        into the error text when the row's own error says less."""
        text = run.error if error is None else error
        if failed_nodes:
            text = f"{text}: {sorted(failed_nodes)}" if text else f"failed nodes {sorted(failed_nodes)}"
        return cls(run_id=run.pk, status=status or run.status, error=text, finished_at=run.finished_at or at,
                   retried_at=at, cause=cause)

    def __str__(self) -> str:
        return f"{self.run_id} try ended {self.status} at {self.retried_at:%Y-%m-%d %H:%M:%S}"


class RunActionKind(models.TextChoices):
    START = "start", "started"
    CANCEL = "cancel", "cancelled"
    RETRY = "retry", "retried"
    RERUN = "rerun", "ran again"


class RunActionVia(models.TextChoices):
    ADMIN = "admin", "admin"
    API = "api", "REST API"
    COMMAND = "command", "command"


class RunAction(models.Model):
    """Who did what to a run, through which surface and when (an audit row, never edited)."""

    Kind = RunActionKind
    Via = RunActionVia

    run = models.ForeignKey(FlowRun, on_delete=models.CASCADE, related_name="actions", db_index=False)
    action = models.CharField(max_length=8, choices=RunActionKind.choices)
    via = models.CharField(max_length=8, choices=RunActionVia.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    #: kept when the user is deleted; for a command, the operating-system user that ran it
    username = models.CharField(max_length=150, blank=True, default="")
    #: what came of it ("12 node runs revoked", the new run of a "run again", ...)
    detail = models.CharField(max_length=255, blank=True, default="")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("at", "id")
        indexes = [
            models.Index(fields=("run", "at"), name="selinon_action_run"),
            # deleting a user (SET NULL); actions of commands have no user and skip it
            models.Index(fields=("user",), name="selinon_action_user", condition=models.Q(user__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.run_id} {self.action} by {self.username or '?'} via {self.via} at {self.at:%Y-%m-%d %H:%M:%S}"
