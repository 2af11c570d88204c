"""Selective run functions ``(flow_name, node_name, node_args, task_names, storage_pool)``.

Returning None runs the task; returning a task id reuses that earlier result instead.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def reuse_previous_result(
    flow_name: str, node_name: str, node_args: Any, task_names: Sequence[str], storage_pool: Any
) -> str | None:
    """Reuse the id the caller supplied in ``node_args.reuse_results[node_name]``, if any.

    Callers that already ran the expensive prerequisite pass its task id, e.g.
    ``{"name": "django", "reuse_results": {"FetchLicenseText": "<task id>"}}``.
    """
    if not isinstance(node_args, Mapping):
        return None
    reuse = node_args.get("reuse_results")
    if not isinstance(reuse, Mapping):
        return None
    task_id = reuse.get(node_name)
    return task_id if isinstance(task_id, str) and task_id else None


def always_run(
    flow_name: str, node_name: str, node_args: Any, task_names: Sequence[str], storage_pool: Any
) -> None:
    """Never reuse (Selinon's default, written out to show the ``function:`` spelling in YAML)."""
    return None
