"""The engine's :class:`~selinon_django.engine.ports.Ports`, answered from rows.

One instance serves one dispatcher step, inside the step's transaction. Node statuses of the
flow's active nodes are read in one query up front (tasks and sub-flows alike: a sub-flow's
node-run row follows its child run's status); results are read lazily, only when a condition,
``node_args_from_first`` or a foreach function actually needs them.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from selinon_django.conf import selinon_settings
from selinon_django.config.model import NodeKind, SystemConfig
from selinon_django.engine.ports import NodeStatus
from selinon_django.engine.state import NodeRef
from selinon_django.engine.throttling import next_slot
from selinon_django.models.outbox import ThrottleSlot
from selinon_django.models.runs import FlowRun, NodeRun, NodeRunStatus
from selinon_django.runtime.user_code import UserCodePorts
from selinon_django.storages.pool import StoragePool

#: above this many active nodes the statuses are read by flow run instead of by id list
_ID_LIST_LIMIT = 500

_STATUS = {
    NodeRunStatus.SUCCEEDED.value: NodeStatus.SUCCEEDED,
    NodeRunStatus.FAILED.value: NodeStatus.FAILED,
    # a revoked node never succeeds: for the flow it failed
    NodeRunStatus.REVOKED.value: NodeStatus.FAILED,
}


def result_of_node(config: SystemConfig, pool: StoragePool, task_name: str, task_id: str) -> Any:
    """A finished task's result: from its storage when it has one, else from its row."""
    row = (
        NodeRun.objects.filter(pk=task_id)
        .values("result", "result_storage", "flow_run__flow_name")
        .first()
    )
    task = config.tasks.get(task_name)
    if task is not None and task.storage is not None:
        flow_name = row["flow_run__flow_name"] if row else ""
        return pool.retrieve(flow_name, task_name, task_id)
    return row["result"] if row else None


class NeedsLock(Exception):
    """An unlocked (optimistic) step asked for something only a locked step may do."""


class DatabasePorts(UserCodePorts):
    """``unlocked``: the step runs outside a transaction on a snapshot of the run (see
    :func:`selinon_django.runtime.dispatcher.step_optimistic`); reservations under row locks
    (throttling) raise :class:`NeedsLock` there."""

    def __init__(self, config: SystemConfig, pool: StoragePool, run: FlowRun, active: Sequence[NodeRef],
                 known_statuses: Mapping[str, str] | None = None, *, unlocked: bool = False) -> None:
        self.unlocked = unlocked
        self.predicate_modules = selinon_settings().PREDICATES_MODULES
        self.config = config
        self.pool = pool
        self.run = run
        self._statuses = self._read_statuses(active, known_statuses or {})
        self._results: dict[str, Any] = {}

    def _read_statuses(self, active: Sequence[NodeRef], known: Mapping[str, str]) -> dict[str, str]:
        """Final statuses of the active nodes; ``known`` ones (written by this very transaction)
        are not read again, so the step after a chain's task costs no query here."""
        statuses = {node.id: known[node.id] for node in active if node.id in known}
        unknown = [node.id for node in active if node.id not in known]
        if not unknown:
            return statuses
        finished = [s.value for s in (NodeRunStatus.SUCCEEDED, NodeRunStatus.FAILED, NodeRunStatus.REVOKED)]
        rows = NodeRun.objects.filter(status__in=finished)
        # a long id list costs more to send than reading the run's finished nodes by index
        rows = rows.filter(pk__in=unknown) if len(unknown) <= _ID_LIST_LIMIT else rows.filter(flow_run_id=self.run.pk)
        statuses.update(rows.values_list("id", "status"))
        return statuses

    # --- Ports ---

    def node_status(self, kind: NodeKind, name: str, node_id: str) -> NodeStatus:
        return _STATUS.get(self._statuses.get(node_id, ""), NodeStatus.PENDING)

    def task_result(self, task_name: str, task_id: str) -> Any:
        key = f"{task_name}/{task_id}"
        if key not in self._results:
            self._results[key] = result_of_node(self.config, self.pool, task_name, task_id)
        return self._results[key]

    def subflow_finished_nodes(self, flow_name: str, run_id: str) -> Mapping[str, Sequence[str]]:
        state = FlowRun.objects.filter(pk=run_id).values_list("state", flat=True).first() or {}
        finished: Mapping[str, Sequence[str]] = state.get("finished_nodes") or {}
        return finished

    def throttle_countdown(self, kind: NodeKind, name: str, interval: float) -> float | None:
        import time

        if self.unlocked:
            raise NeedsLock("throttling reserves its slot under a row lock")
        slot, _ = ThrottleSlot.objects.select_for_update().get_or_create(kind=kind, name=name)
        reserved = next_slot(slot.last_reserved or None, time.time(), interval)
        slot.last_reserved = reserved.start_at
        slot.save(update_fields=["last_reserved"])
        return reserved.countdown or None
