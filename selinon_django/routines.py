"""Routines that configurations name: Selinon's ``selinon.routines``.

``always_run`` is the ``selective_run_function`` that a task without one behaves as: in a
selective run, run the task again rather than reuse an earlier result. YAML written for Selinon
may name it explicitly (``import: selinon.routines``).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["always_run"]


def always_run(flow_name: str, node_name: str, node_args: Any, task_names: Sequence[str], storage_pool: Any) -> None:
    """Never reuse: ``None`` tells the dispatcher to run ``node_name`` (no earlier task id)."""
    return None
