"""Trace events as rows (the database trace backend writes them; the admin shows them per run)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from selinon_django.models.runs import FlowRun


class TraceEventRecord(models.Model):
    #: null for events outside any run (for example a dispatcher message for an unknown run)
    #: indexed by the (flow_run, created_at) index of Meta, not by one of its own. No database
    #: constraint: a big step writes thousands of events at once and the constraint's check per
    #: row cost as much as the rows; deleting a run still deletes its events (Django's cascade)
    flow_run = models.ForeignKey(
        FlowRun, null=True, blank=True, on_delete=models.CASCADE, related_name="trace_events", db_index=False,
        db_constraint=False,
    )
    #: not a foreign key: an event may be recorded before (or without) its node-run row
    node_run_id = models.CharField(max_length=255, null=True, blank=True)
    event = models.CharField(max_length=64)
    details = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("created_at", "id")
        indexes = [models.Index(fields=("flow_run", "created_at"), name="selinon_trace_run_time")]

    def __str__(self) -> str:
        return f"{self.event} at {self.created_at:%Y-%m-%d %H:%M:%S}"
