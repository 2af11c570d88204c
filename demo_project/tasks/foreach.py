"""Foreach functions ``(storage_pool, node_args) -> list``: how many nodes an edge starts.

They run inside the dispatcher, where an exception has no defined outcome (Selinon's
documentation forbids raising), so a missing parent result is logged and yields nothing.
``storage_pool.get(task_name)`` reads the result of the edge's parent task.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from demo_project.tasks import catalog

logger = logging.getLogger(__name__)


def _parent_result(storage_pool: Any, task_name: str) -> Mapping[str, Any]:
    try:
        result = storage_pool.get(task_name)
    except Exception:
        logger.exception("foreach could not read the result of %s", task_name)
        return {}
    return result if isinstance(result, Mapping) else {}


def files_from_listing(storage_pool: Any, node_args: Any) -> list[dict[str, str]]:
    """One item per file ListFiles found; each item names the package too (it becomes node_args)."""
    listing = _parent_result(storage_pool, "ListFiles")
    coords = catalog.coordinates(listing or node_args)
    return [{**coords, "path": path} for path in listing.get("files", [])]


def dependencies_from_result(storage_pool: Any, node_args: Any) -> list[dict[str, str]]:
    """One item per dependency ResolveDependencies returned (node_args of analyze_dependency)."""
    return list(_parent_result(storage_pool, "ResolveDependencies").get("dependencies", []))


def packages_from_batch(storage_pool: Any, node_args: Any) -> list[dict[str, str]]:
    """One item per package ValidateBatch accepted."""
    return list(_parent_result(storage_pool, "ValidateBatch").get("packages", []))


def verification_rounds(storage_pool: Any, node_args: Any) -> list[int]:
    """``verification_quorum`` independent verifications (default 2); the items are not propagated."""
    quorum = node_args.get("verification_quorum", 2) if isinstance(node_args, Mapping) else 2
    return list(range(quorum if isinstance(quorum, int) and quorum >= 0 else 2))
