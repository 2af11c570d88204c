"""The kwargs of the runtime's Celery messages.

The dispatcher message keeps Selinon's shape (``flow_name, node_args, parent, retried_count,
retry, selective, migration_version, state``) plus ``run_id`` and ``state_version``. The row is
authoritative: a dispatcher only reads ``run_id`` and treats everything else as a hint, so a
stale or duplicated message is a harmless wake-up. Wake-ups (a node finished, a safety-net
look) therefore carry only the identifying keys; the full shape goes with the first message of a
run, where it documents what the run was started with.

A task message carries what Selinon's task envelope receives (``task_name, flow_name, parent,
node_args, dispatcher_id``); its Celery task id is the node id.
"""
from __future__ import annotations

from typing import Any

#: registered names of the two Celery tasks (stable: they are in queued messages)
DISPATCHER_TASK = "selinon_django.dispatcher"
NODE_TASK = "selinon_django.task"


def dispatcher_kwargs(
    run_id: str,
    flow_name: str,
    *,
    state_version: int = 0,
    reason: str = "wakeup",
    full: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Kwargs of a dispatcher message; ``full`` adds Selinon's keys (first message of a run)."""
    kwargs: dict[str, Any] = {
        "run_id": run_id,
        "flow_name": flow_name,
        "state_version": state_version,
        "reason": reason,
    }
    if full:
        kwargs.update(full)
    return kwargs


def task_kwargs(
    *, flow_name: str, task_name: str, parent: Any, node_args: Any, dispatcher_id: str, revision_id: int
) -> dict[str, Any]:
    return {
        "flow_name": flow_name,
        "task_name": task_name,
        "parent": parent,
        "node_args": node_args,
        "dispatcher_id": dispatcher_id,
        "revision_id": revision_id,
    }
