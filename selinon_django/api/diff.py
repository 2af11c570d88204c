"""What changed between two configuration revisions, computed from their normalised JSON.

Tasks, storages and flows are matched by name. Edges and failures have no name: they are paired
by :mod:`selinon_django.engine.migration_plan`, the rule the admin's revision diff and migrations
use too - an edge joining the same nodes is the same edge, listed under ``changed`` with its
``before`` and ``after`` when its condition, foreach or selective part was edited.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from selinon_django.engine.migration_plan import Pairing, pair_edge_data, pair_failure_data


def _by_name(items: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {str(item["name"]): item for item in items}


def _named_changes(old: Iterable[Mapping[str, Any]], new: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    before, after = _by_name(old), _by_name(new)
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": [
            {"name": name, "before": before[name], "after": after[name]}
            for name in sorted(set(before) & set(after))
            if before[name] != after[name]
        ],
    }


def _paired_changes(
    old: Sequence[Mapping[str, Any]],
    new: Sequence[Mapping[str, Any]],
    pair: Callable[[Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]]], tuple[Pairing, ...]],
) -> dict[str, list[Any]]:
    """Items added, removed and changed (``{before, after}``), as the pairing rule says."""
    result: dict[str, list[Any]] = {"added": [], "removed": [], "changed": []}
    for pairing in pair(old, new):
        if pairing.change == "added" and pairing.new is not None:
            result["added"].append(new[pairing.new])
        elif pairing.change == "removed" and pairing.old is not None:
            result["removed"].append(old[pairing.old])
        elif pairing.change == "changed" and pairing.old is not None and pairing.new is not None:
            result["changed"].append({"before": old[pairing.old], "after": new[pairing.new]})
    return result


def _flow_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    options = sorted(
        key for key in set(old) | set(new)
        if key not in ("name", "edges", "failures") and old.get(key) != new.get(key)
    )
    return {
        "name": new["name"],
        "edges": _paired_changes(old.get("edges", []), new.get("edges", []), pair_edge_data),
        "failures": _paired_changes(old.get("failures", []), new.get("failures", []), pair_failure_data),
        "options": {key: {"before": old.get(key), "after": new.get(key)} for key in options},
    }


def revision_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The changes from normalised configuration ``old`` to ``new``."""
    old_flows = _by_name(old.get("flow-definitions", []))
    new_flows = _by_name(new.get("flow-definitions", []))
    changed_flows = [
        _flow_changes(old_flows[name], new_flows[name])
        for name in sorted(set(old_flows) & set(new_flows))
        if old_flows[name] != new_flows[name]
    ]
    old_global, new_global = old.get("global", {}), new.get("global", {})
    return {
        "tasks": _named_changes(old.get("tasks", []), new.get("tasks", [])),
        "storages": _named_changes(old.get("storages", []), new.get("storages", [])),
        "flows": {
            "added": sorted(set(new_flows) - set(old_flows)),
            "removed": sorted(set(old_flows) - set(new_flows)),
            "changed": changed_flows,
        },
        "global": {"before": old_global, "after": new_global} if old_global != new_global else None,
    }
