"""Prometheus metrics of flows (``SELINON_DJANGO["PROMETHEUS"]``), from prometheus-client.

Counted where it happens, from what the runtime already produces: the trace events (a trace
backend), the ``flow_finished`` and ``swept`` signals, and the runtime's observer hooks (queue
wait, lost attempts). Labels are names from the configuration (flows, tasks, queues) and fixed
words, so their number is bounded by the YAML.

**Multiprocess mode.** A Celery prefork worker runs tasks in pool processes, each with its own
memory; prometheus-client's multiprocess mode makes every process write its samples to files in
``PROMETHEUS_MULTIPROC_DIR`` (set in the environment of the web processes and workers of a host,
before they start), and :func:`exposition` - the scrape endpoint, :mod:`.scrape` - adds up the
files of all of them. Without that directory a process exposes only its own samples.

==================================================  ==========================================
``selinon_flow_runs_started_total{flow}``           runs whose first step ran
``selinon_flow_runs_total{flow,status}``            runs ended: succeeded, failed, revoked
``selinon_flow_run_duration_seconds{flow,status}``  created to ended
``selinon_node_runs_total{flow,node,status}``       attempts ended: succeeded, failed, retried
``selinon_node_duration_seconds{flow,node,status}`` an attempt's run time
``selinon_node_queue_wait_seconds{flow,node,queue}`` sent to started (a countdown excluded; 0 inline)
``selinon_dispatcher_steps_total{flow}``            dispatcher steps computed
``selinon_sweeper_resends_total{kind}``             the sweeper's resends: outbox, wakeup, task, trigger
``selinon_sweeper_broker_losses_total``             sweeps that found the broker had lost its data
``selinon_lost_attempts_total{flow,node,outcome}``  attempts lost with their process: rerun, failed
``selinon_migration_events_total{flow,event}``      migrated, skew, tainted, error
==================================================  ==========================================
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any

from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from selinon_django.runtime import observers
from selinon_django.signals import flow_finished, swept
from selinon_django.trace.events import Trace
from selinon_django.trace.tracer import add_process_backend, remove_process_backend

#: seconds: from a no-op task to an hour-long one
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)

RUNS_STARTED = Counter("selinon_flow_runs_started", "Flow runs whose first step ran", ["flow"])
RUNS = Counter("selinon_flow_runs", "Flow runs ended, by status", ["flow", "status"])
RUN_DURATION = Histogram("selinon_flow_run_duration_seconds", "Flow runs from created to ended",
                         ["flow", "status"], buckets=DURATION_BUCKETS)
NODE_RUNS = Counter("selinon_node_runs", "Task attempts ended, by status", ["flow", "node", "status"])
NODE_DURATION = Histogram("selinon_node_duration_seconds", "Run time of a task attempt",
                          ["flow", "node", "status"], buckets=DURATION_BUCKETS)
QUEUE_WAIT = Histogram("selinon_node_queue_wait_seconds", "Task attempts from sent to started",
                       ["flow", "node", "queue"], buckets=DURATION_BUCKETS)
STEPS = Counter("selinon_dispatcher_steps", "Dispatcher steps computed", ["flow"])
RESENDS = Counter("selinon_sweeper_resends", "Messages the sweeper sent again", ["kind"])
BROKER_LOSSES = Counter("selinon_sweeper_broker_losses", "Sweeps that found the broker had lost its data")
LOST_ATTEMPTS = Counter("selinon_lost_attempts", "Task attempts lost with their process", ["flow", "node", "outcome"])
MIGRATIONS = Counter("selinon_migration_events", "Migration events of running flows", ["flow", "event"])

_END_STATUS = {Trace.TASK_END: "succeeded", Trace.TASK_FAILURE: "failed", Trace.TASK_RETRY: "retried"}
_MIGRATION_EVENTS = {
    Trace.MIGRATION: "migrated", Trace.MIGRATION_SKEW: "skew", Trace.MIGRATION_TAINTED_FLOW: "tainted",
    Trace.MIGRATION_ERROR: "error",
}


class Metrics(observers.Observer):
    """Counts from trace events (a trace backend), signals and observer hooks."""

    def __init__(self) -> None:
        self._started = threading.local()

    def __call__(self, event: int, details: dict[str, Any]) -> None:
        flow = str(details.get("flow_name", ""))
        if event == Trace.TASK_START:
            self._started.at = time.monotonic()
            attempt = observers.current()
            if attempt is not None and attempt.node_id == details.get("task_id"):
                wait = attempt.queue_wait(timezone.now())
                if wait is not None:
                    QUEUE_WAIT.labels(flow, attempt.task_name, attempt.queue or "").observe(wait)
        elif event in _END_STATUS:
            status, node = _END_STATUS[event], str(details.get("task_name", ""))
            NODE_RUNS.labels(flow, node, status).inc()
            started = getattr(self._started, "at", None)
            if started is not None:
                NODE_DURATION.labels(flow, node, status).observe(time.monotonic() - started)
                self._started.at = None
        elif event == Trace.DISPATCHER_WAKEUP:
            STEPS.labels(flow).inc()
        elif event == Trace.FLOW_START:
            RUNS_STARTED.labels(flow).inc()
        elif event in _MIGRATION_EVENTS:
            MIGRATIONS.labels(flow, _MIGRATION_EVENTS[event]).inc()

    def attempt_lost(self, flow_name: str, task_name: str, *, failed: bool) -> None:
        LOST_ATTEMPTS.labels(flow_name, task_name, "failed" if failed else "rerun").inc()

    def run_finished(self, sender: Any = None, run: Any = None, status: str = "", **_: Any) -> None:
        if run is None:
            return
        status = str(status or run.status)
        RUNS.labels(run.flow_name, status).inc()
        if run.created_at is not None:
            ended = run.finished_at or timezone.now()
            RUN_DURATION.labels(run.flow_name, status).observe(max(0.0, (ended - run.created_at).total_seconds()))

    def sweep_reported(self, sender: Any = None, report: Any = None, **_: Any) -> None:
        if report is None:
            return
        for kind, count in (("outbox", report.outbox), ("wakeup", report.wakeups), ("task", report.tasks),
                            ("trigger", report.triggers)):
            if count:
                RESENDS.labels(kind).inc(count)
        if report.broker_lost:
            BROKER_LOSSES.inc()


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format and its content type: of every process writing to
    ``PROMETHEUS_MULTIPROC_DIR`` when it is set, else of this process."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


_installed: Metrics | None = None


def install() -> Metrics:
    """Count in this process (idempotent)."""
    global _installed
    if _installed is None:
        _installed = Metrics()
        add_process_backend(_installed)
        observers.install(_installed)
        flow_finished.connect(_installed.run_finished, weak=False, dispatch_uid=f"{__name__}.run_finished")
        swept.connect(_installed.sweep_reported, weak=False, dispatch_uid=f"{__name__}.swept")
    return _installed


def uninstall() -> None:
    global _installed
    if _installed is not None:
        remove_process_backend(_installed)
        observers.uninstall(_installed)
        flow_finished.disconnect(dispatch_uid=f"{__name__}.run_finished")
        swept.disconnect(dispatch_uid=f"{__name__}.swept")
        _installed = None
