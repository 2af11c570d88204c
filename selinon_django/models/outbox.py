"""The transactional outbox and the throttling slots.

A message to Celery is written here in the same transaction as the state change that causes it
and published after commit; a message whose publish was lost (process killed between commit and
publish) is still unpublished here and is sent again by the relay. Throttling slots are rows so
the spacing of starts holds across processes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxMessageQuerySet(models.QuerySet["OutboxMessage"]):
    def unpublished(self) -> OutboxMessageQuerySet:
        return self.filter(published_at__isnull=True)

    def stale(self, older_than: timedelta, now: datetime | None = None) -> OutboxMessageQuerySet:
        """Unpublished messages old enough that their after-commit publish must have been lost."""
        return self.unpublished().filter(created_at__lte=(now or timezone.now()) - older_than)

    def locked(self, *, skip_locked: bool = True) -> OutboxMessageQuerySet:
        return self.select_for_update(skip_locked=skip_locked)


OutboxMessageManager = models.Manager.from_queryset(OutboxMessageQuerySet)


class OutboxMessage(models.Model):
    created_at = models.DateTimeField(default=timezone.now)
    task_name = models.CharField(max_length=255)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    #: ``apply_async`` options: queue, countdown, task_id, ...
    options = models.JSONField(default=dict)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    objects = OutboxMessageManager()

    class Meta:
        ordering = ("created_at", "id")
        indexes = [
            models.Index(
                fields=("created_at",), name="selinon_outbox_unpublished", condition=Q(published_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        state = "published" if self.published_at else "pending"
        return f"{self.task_name} ({state})"

    @property
    def task_id(self) -> str | None:
        value = self.options.get("task_id") if isinstance(self.options, dict) else None
        return str(value) if value is not None else None


class ThrottleSlot(models.Model):
    """The last reserved start time (epoch seconds) of a throttled task or flow."""

    class Kind(models.TextChoices):
        TASK = "task", "task"
        FLOW = "flow", "flow"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=255)
    last_reserved = models.FloatField(default=0.0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("kind", "name"), name="selinon_throttle_slot_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"
