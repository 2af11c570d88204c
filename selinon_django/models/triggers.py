"""Trigger sessions, the triggers fired in them and the trigger-task instances they caused.

The session row is the lock: :func:`selinon_django.triggers.manager.fire` takes it with
``select_for_update`` before it records a trigger and decides which trigger tasks are now
ready, so two concurrent fires of one session are serialised and see each other's rows. The
unique ``(session, name)`` constraint on instances is the backstop: whatever happens, a
trigger task runs at most once per session.
"""
from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from selinon_django.models.runs import FlowRun


class TriggerSession(models.Model):
    """A correlation key chosen by the application (an order id, a questionnaire id...)."""

    key = models.CharField(max_length=255, unique=True)
    #: the session's own trigger configuration, laid over the ``triggers:`` of the current
    #: revision (``{task name: {"after": [...], "run": ..., ...}}``); empty: the YAML one only
    configuration = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.key


class FiredTrigger(models.Model):
    """One firing of a trigger. A trigger fired twice has two rows; the latest kwargs win."""

    class Source(models.TextChoices):
        APPLICATION = "application", "application"
        CASCADE = "cascade", "cascade"
        TASK = "task", "task"
        FLOW = "flow", "flow"
        COMMAND = "command", "command"
        API = "api", "api"

    session = models.ForeignKey(TriggerSession, on_delete=models.CASCADE, related_name="fired_triggers")
    name = models.CharField(max_length=255)
    kwargs = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.APPLICATION)
    #: the trigger-task instance whose success fired this trigger (cascades)
    cascade_of = models.ForeignKey(
        "TriggerTaskInstance", null=True, blank=True, on_delete=models.SET_NULL, related_name="cascaded"
    )
    fired_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("fired_at", "id")
        indexes = [models.Index(fields=("session", "name"), name="selinon_fired_session_name")]

    def __str__(self) -> str:
        return f"{self.name} in {self.session_id}"


class TriggerTaskStatus(models.TextChoices):
    SCHEDULED = "scheduled", "scheduled"
    STARTED = "started", "started"
    RETRYING = "retrying", "retrying"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"


TRIGGER_TASK_FINISHED = (TriggerTaskStatus.SUCCEEDED, TriggerTaskStatus.FAILED)


class TriggerTaskInstance(models.Model):
    """The one run of a trigger task in a session (its Celery task id is ``id``)."""

    class Kind(models.TextChoices):
        TASK = "task", "task"
        FLOW = "flow", "flow"

    Status = TriggerTaskStatus

    id = models.CharField(primary_key=True, max_length=64)
    session = models.ForeignKey(TriggerSession, on_delete=models.CASCADE, related_name="task_instances")
    name = models.CharField(max_length=255)
    #: the ``run`` value: a dotted TriggerTask class path or a flow name
    target = models.CharField(max_length=255)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=TriggerTaskStatus.choices, default=TriggerTaskStatus.SCHEDULED)
    #: attempts started so far (the first run is attempt 1)
    attempts = models.PositiveIntegerField(default=0)
    max_retries = models.PositiveIntegerField(null=True, blank=True)
    #: Celery options of the instance's messages (from the trigger configuration)
    queue = models.CharField(max_length=255, blank=True, default="")
    priority = models.PositiveSmallIntegerField(null=True, blank=True)
    #: the worker (Celery hostname) that started the latest attempt: the sweeper runs the
    #: instance again when that worker is gone (runtime/sweeper.py)
    worker = models.CharField(max_length=255, blank=True, default="")
    #: when the instance's pending message (first or retry) was published, and its countdown: the
    #: sweeper resends a message the broker lost
    sent_at = models.DateTimeField(null=True, blank=True)
    countdown = models.FloatField(null=True, blank=True)
    #: ``{trigger name: kwargs}`` the next attempt receives (replaced by ``self.retry(trigger_kwargs=...)``)
    trigger_kwargs = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    result = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    error = models.TextField(blank=True, default="")
    traceback = models.TextField(blank=True, default="")
    flow_run = models.ForeignKey(
        FlowRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="trigger_instances"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("created_at",)
        constraints = [
            models.UniqueConstraint(fields=("session", "name"), name="selinon_trigger_task_once"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in TRIGGER_TASK_FINISHED


# the flow_finished receiver must be connected in every process that can finish a flow
from selinon_django.triggers import receivers as _receivers  # noqa: E402,F401
