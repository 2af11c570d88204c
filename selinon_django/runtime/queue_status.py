"""The queues flows use, how many messages wait in each, and the runs waiting on a queue nobody consumes.

A node whose message sits in a queue that no worker consumes never starts, and nothing fails:
the run just waits. This module puts the three facts side by side - the queues of the current
revision (tasks and dispatchers), their depth as the broker tells it, and the node runs still
``sent`` (or ``retried``, waiting for their next message) on each queue - so the admin's workers
page and ``selinon_run --wait`` can say which queue nobody reads.

Depths: Redis (``LLEN`` over the priority lists) and kombu's filesystem transport (its message
files) answer through :class:`~selinon_django.runtime.broker.BrokerProbe`, and so does RabbitMQ;
any other transport is reported as unknown rather than guessed. Waiting node runs are read
through the partial index of nodes in flight, grouped in SQL: a page costs one query however big
the tables are, plus one bounded query per queue nobody consumes.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Min, Q

from selinon_django.config.model import SystemConfig
from selinon_django.models import ConfigRevision, FlowRun, NodeKind, NodeRun, NodeRunStatus
from selinon_django.runtime.broker import BrokerProbe
from selinon_django.runtime.configs import config_for
from selinon_django.runtime.workers import inspect_workers

#: transports whose queue depth the broker reports truthfully (kombu driver types)
COUNTING_TRANSPORTS = frozenset({"redis", "filesystem", "amqp"})
#: node statuses that wait for a worker to take their message
WAITING_STATUSES = (NodeRunStatus.SENT, NodeRunStatus.RETRIED)
#: runs listed per queue nobody consumes (the count covers all of them)
RUNS_LISTED = 50


@dataclass
class QueueUse:
    """A queue of the current revision, who publishes to it and how deep it is."""

    name: str
    tasks: list[str] = field(default_factory=list)
    dispatchers: list[str] = field(default_factory=list)
    #: messages waiting (None: the transport does not say, or the broker did not answer)
    depth: int | None = None
    consumers: list[str] = field(default_factory=list)


@dataclass
class QueueWait:
    """Node runs waiting on one queue (any revision), and some of their runs."""

    queue: str
    nodes: int
    runs: int
    oldest: datetime | None
    listed: list[tuple[str, str]] = field(default_factory=list)  # (run id, flow name)

    @property
    def unlisted(self) -> int:
        return max(0, self.runs - len(self.listed))


def queues_of(config: SystemConfig) -> dict[str, QueueUse]:
    """Every queue the configuration publishes to, with the tasks and flows that use it."""
    uses: dict[str, QueueUse] = {}
    for name in sorted(config.tasks):
        queue = config.task_queue(name)
        uses.setdefault(queue, QueueUse(queue)).tasks.append(name)
    for name in sorted(config.flows):
        queue = config.dispatcher_queue(name)
        uses.setdefault(queue, QueueUse(queue)).dispatchers.append(name)
    return dict(sorted(uses.items()))


def current_queues() -> tuple[ConfigRevision | None, dict[str, QueueUse]]:
    revision = ConfigRevision.objects.current()
    if revision is None:
        return None, {}
    return revision, queues_of(config_for(revision.pk))


def depths(queues: Iterable[str], transport: str, app: Any = None) -> dict[str, int | None]:
    """Messages waiting per queue; None where the transport does not count them or did not answer."""
    names = list(queues)
    if transport not in COUNTING_TRANSPORTS:
        return dict.fromkeys(names)
    probe = BrokerProbe(app)
    try:
        return {name: probe.queue_size(name) for name in names}
    finally:
        probe.close()


def waiting_by_queue(run_ids: Iterable[str] | None = None) -> dict[str, QueueWait]:
    """Task node runs waiting for a worker, per queue (of their own run's revision).

    ``run_ids``: only these runs (``selinon_run`` asks about its run tree); None: all of them.
    """
    rows = NodeRun.objects.filter(status__in=WAITING_STATUSES, kind=NodeKind.TASK)
    if run_ids is not None:
        rows = rows.filter(flow_run_id__in=list(run_ids))
    groups = (
        rows.values("flow_run__revision_id", "name")
        .annotate(nodes=Count("id"), runs=Count("flow_run_id", distinct=True), oldest=Min("sent_at"))
        .order_by()
    )
    waits: dict[str, QueueWait] = {}
    for group in groups:
        config = config_for(int(group["flow_run__revision_id"]))
        name = group["name"]
        queue = config.task_queue(name) if name in config.tasks else "?"
        wait = waits.setdefault(queue, QueueWait(queue, 0, 0, None))
        wait.nodes += group["nodes"]
        wait.runs += group["runs"]  # an upper bound (a run waiting with two tasks counts twice): list_runs counts
        oldest = group["oldest"]
        if oldest is not None and (wait.oldest is None or oldest < wait.oldest):
            wait.oldest = oldest
    return dict(sorted(waits.items()))


def list_runs(wait: QueueWait, run_ids: Iterable[str] | None = None) -> None:
    """Count ``wait``'s runs exactly and list up to :data:`RUNS_LISTED` of them, oldest first."""
    rows = NodeRun.objects.filter(status__in=WAITING_STATUSES, kind=NodeKind.TASK)
    if run_ids is not None:
        rows = rows.filter(flow_run_id__in=list(run_ids))
    condition = Q(pk__in=[])
    for revision_id, name in rows.values_list("flow_run__revision_id", "name").distinct():
        config = config_for(int(revision_id))
        if (config.task_queue(name) if name in config.tasks else "?") == wait.queue:
            condition |= Q(flow_run__revision_id=revision_id, name=name)
    matching = rows.filter(condition).values("flow_run_id")
    wait.runs = matching.distinct().count()
    wait.listed = list(
        FlowRun.objects.filter(pk__in=matching).order_by("created_at").values_list("id", "flow_name")[:RUNS_LISTED]
    )


def run_tree(run_id: str) -> list[str]:
    """A run and its sub-flow runs (sub-flows point at their root)."""
    root = FlowRun.objects.filter(pk=run_id).values_list("root_run_id", flat=True).first() or run_id
    return [root, *FlowRun.objects.filter(root_run_id=root).values_list("pk", flat=True)]


def why_waiting(run_id: str, timeout: float, app: Any = None) -> list[str]:
    """Sentences for a user whose wait for ``run_id`` timed out: the queues its nodes wait on
    that no worker consumes (asking the workers for at most about ``timeout`` seconds)."""
    waits = waiting_by_queue(run_tree(run_id))
    if not waits:
        return []
    report = inspect_workers(timeout, app)
    if report.broker_error is not None:
        queues = ", ".join(repr(name) for name in waits)
        return [f"no broker answered ({report.broker_error}); node runs of this run wait on {queues}"]
    consumed = report.consumed
    online = "; ".join(f"{w.hostname} [{', '.join(w.queues)}]" for w in report.workers) or (
        f"none answered within {timeout:g} s")
    return [
        f"{wait.nodes} node run(s) of this run wait on queue {wait.queue!r}, which no worker consumes "
        f"(workers online: {online})"
        for wait in waits.values() if wait.queue not in consumed
    ]
