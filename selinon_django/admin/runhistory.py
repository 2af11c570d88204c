"""A run's history on its page: numbered tries with their states and errors, and who acted on it.

The tries come from :class:`~selinon_django.models.RunAttempt` rows (earlier tries) and the run
row (the current one); a node run belongs to the try during which it was created, so each try
lists the nodes that failed in it with their first error line. The actions are the
:class:`~selinon_django.models.RunAction` rows the admin, the REST API and the commands wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from selinon_django.graph import STATE_COLOURS
from selinon_django.models import FlowRun, NodeRun, RunAction, RunAttempt

#: failed nodes listed per try (the count says how many there were)
MAX_FAILED_LISTED = 20


@dataclass
class FailedNode:
    name: str
    id: str
    error: str


@dataclass
class Try:
    number: int
    status: str
    error: str
    started_at: datetime | None
    finished_at: datetime | None
    #: when the next try began (None: the current try)
    retried_at: datetime | None
    #: how the next try began ("retried from the failed nodes", "started over (max_retry)")
    cause: str
    failed: list[FailedNode] = field(default_factory=list)
    failed_total: int = 0

    @property
    def current(self) -> bool:
        return self.retried_at is None

    @property
    def colour(self) -> str:
        return STATE_COLOURS.get(self.status, "#999999")

    @property
    def failed_unlisted(self) -> int:
        return self.failed_total - len(self.failed)


@dataclass
class RunHistory:
    tries: list[Try]
    actions: list[RunAction]

    @property
    def retried_at(self) -> list[datetime]:
        """When each earlier try ended (a node created at or after the n-th is in try n + 1)."""
        return [attempt.retried_at for attempt in self.tries if attempt.retried_at is not None]

    @property
    def retried(self) -> bool:
        return len(self.tries) > 1


def run_history(run: FlowRun, nodes: list[NodeRun]) -> RunHistory:
    """Two queries: the run's earlier tries and its actions. ``nodes``: the run's node runs
    (light, with ``error_text``), in creation order."""
    attempts = list(RunAttempt.objects.filter(run=run).order_by("retried_at", "id"))
    actions = list(RunAction.objects.filter(run=run).order_by("at", "id"))
    tries: list[Try] = []
    begun = run.started_at or run.created_at
    for number, attempt in enumerate(attempts, start=1):
        tries.append(Try(number, attempt.status, attempt.error, begun, attempt.finished_at, attempt.retried_at,
                         attempt.get_cause_display()))
        begun = attempt.retried_at
    tries.append(Try(len(attempts) + 1, run.status, run.error, begun, run.finished_at, None, ""))
    boundaries = [attempt.retried_at for attempt in attempts]
    for node in nodes:
        if node.status != NodeRun.Status.FAILED:
            continue
        number = 1 + sum(1 for moment in boundaries if moment <= node.created_at)
        entry = tries[number - 1]
        entry.failed_total += 1
        if len(entry.failed) < MAX_FAILED_LISTED:
            error = (getattr(node, "error_text", "") or "").strip().split("\n", 1)[0]
            entry.failed.append(FailedNode(node.name, node.id, error))
    return RunHistory(tries=tries, actions=actions)
