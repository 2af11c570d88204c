"""Which workers are online, what they consume and run: Celery's remote control, asked briefly.

One broadcast (``active_queues``) waits ``timeout`` seconds for every worker to answer: that is
how the workers are found. The next questions (active and reserved tasks, the last heartbeat)
name those workers and return as soon as each has answered. Before anything, the broker itself
must answer a connection within ``timeout``: an unreachable broker is reported as such, not as
"no workers".
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from selinon_django.config.secrets import mask_url_passwords
from selinon_django.runtime.celery_app import get_celery_app
from selinon_django.runtime.worker_heartbeat import COMMAND as HEARTBEAT_COMMAND


@dataclass(frozen=True)
class TaskSummary:
    """A task a worker runs or holds: a node of a flow run when it is the runtime's."""

    id: str
    name: str
    flow_name: str = ""
    node_name: str = ""
    run_id: str = ""
    started: datetime | None = None

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> TaskSummary:
        kwargs = request.get("kwargs")
        kwargs = kwargs if isinstance(kwargs, dict) else {}
        started = request.get("time_start")
        return cls(
            id=str(request.get("id", "")),
            name=str(request.get("name") or request.get("type") or ""),
            flow_name=str(kwargs.get("flow_name") or ""),
            node_name=str(kwargs.get("task_name") or ""),
            run_id=str(kwargs.get("dispatcher_id") or kwargs.get("run_id") or ""),
            started=datetime.fromtimestamp(started, tz=UTC) if isinstance(started, (int, float)) else None,
        )


@dataclass(frozen=True)
class WorkerInfo:
    hostname: str
    queues: tuple[str, ...]
    active: tuple[TaskSummary, ...] = ()
    reserved: tuple[TaskSummary, ...] = ()
    #: None: the worker did not say (an older deployment without this app's command)
    last_heartbeat: datetime | None = None
    #: False: started with --without-heartbeat; None: unknown
    heartbeats: bool | None = None
    #: seconds between the last heartbeat and the worker's answer
    heartbeat_age: float | None = None


@dataclass
class WorkersReport:
    broker: str
    transport: str
    timeout: float
    workers: list[WorkerInfo] = field(default_factory=list)
    #: the broker could not be reached (then nothing is known about workers)
    broker_error: str | None = None

    @property
    def answered(self) -> bool:
        """The broker answered (the worker list is what it is, maybe empty)."""
        return self.broker_error is None

    @property
    def consumed(self) -> dict[str, list[str]]:
        """Queue name -> hostnames of the workers consuming it."""
        consumers: dict[str, list[str]] = {}
        for worker in self.workers:
            for queue in worker.queues:
                consumers.setdefault(queue, []).append(worker.hostname)
        return consumers


def broker_description(app: Any) -> tuple[str, str]:
    """The broker URL (password masked) and the transport's kind (kombu's driver type: redis, filesystem...)."""
    connection = app.connection_for_read()
    try:
        return mask_url_passwords(connection.as_uri()), str(connection.transport.driver_type)
    finally:
        connection.release()


def inspect_workers(timeout: float, app: Any = None) -> WorkersReport:
    app = app or get_celery_app()
    broker, transport = broker_description(app)
    report = WorkersReport(broker=broker, transport=transport, timeout=timeout)
    try:
        with app.connection_for_read(connect_timeout=timeout) as connection:
            connection.ensure_connection(max_retries=0, timeout=timeout)  # no retry: say it at once
    except Exception as error:
        report.broker_error = mask_url_passwords(f"{type(error).__name__}: {error}")
        return report
    try:
        queues = app.control.inspect(timeout=timeout).active_queues() or {}
        hosts = sorted(queues)
        if not hosts:
            return report
        quick = app.control.inspect(destination=hosts, timeout=timeout, limit=len(hosts))
        active = quick.active() or {}
        reserved = quick.reserved() or {}
        beats: dict[str, Any] = {}
        for reply in app.control.broadcast(HEARTBEAT_COMMAND, destination=hosts, reply=True, timeout=timeout,
                                           limit=len(hosts)) or []:
            beats.update(reply)
    except Exception as error:  # the broker went away between the questions
        report.broker_error = mask_url_passwords(f"{type(error).__name__}: {error}")
        return report
    for host in hosts:
        beat = beats.get(host)
        beat = beat if isinstance(beat, dict) and "heartbeats" in beat else {}
        sent = beat.get("last_heartbeat")
        report.workers.append(WorkerInfo(
            hostname=host,
            queues=tuple(sorted(str(q.get("name")) for q in queues.get(host) or () if isinstance(q, dict))),
            active=tuple(TaskSummary.from_request(r) for r in active.get(host) or () if isinstance(r, dict)),
            reserved=tuple(TaskSummary.from_request(r) for r in reserved.get(host) or () if isinstance(r, dict)),
            last_heartbeat=datetime.fromtimestamp(sent, tz=UTC) if isinstance(sent, (int, float)) else None,
            heartbeats=beat.get("heartbeats") if beat else None,
            heartbeat_age=max(0.0, time.time() - sent) if isinstance(sent, (int, float)) else None,
        ))
    return report
