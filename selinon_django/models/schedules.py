"""What each tick of a schedule did: which run it started, or why it started none.

Celery beat (django-celery-beat) keeps the schedules and sends a message at each tick; the tick's
outcome is kept here so an operator sees skipped ticks next to started runs, and so a schedule
whose policy is "skip while the last run is still running" can find that run.
"""
from __future__ import annotations

from django.db import models
from django.utils import timezone

from selinon_django.models.runs import FlowRun


class ScheduleTickOutcome(models.TextChoices):
    STARTED = "started", "started a run"
    SKIPPED = "skipped", "skipped (the last run still runs)"
    FAILED = "failed", "could not start"


class ScheduleTick(models.Model):
    """One tick of a schedule (an audit row, never edited)."""

    Outcome = ScheduleTickOutcome

    #: the schedule's name in beat's table (``selinon:<name>`` for schedules loaded from YAML)
    schedule = models.CharField(max_length=200)
    at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=8, choices=ScheduleTickOutcome.choices)
    run = models.ForeignKey(FlowRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                            db_index=False)
    detail = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ("-at", "-id")
        indexes = [
            models.Index(fields=("schedule", "at"), name="selinon_tick_schedule"),
            # pruning runs (SET NULL) looks ticks up by run
            models.Index(fields=("run",), name="selinon_tick_run", condition=models.Q(run__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.schedule} {self.outcome} at {self.at:%Y-%m-%d %H:%M:%S}"
