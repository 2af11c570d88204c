"""What changed between two configuration revisions, computed from their normalised JSON.

Tasks, storages and flows are matched by name. Edges and failures have no name: their index is
their identity inside one revision only, so they are compared by content, and an edited edge
shows as one removed and one added (which is what a reviewer needs to see anyway).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any


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


def _key(item: Any) -> str:
    return json.dumps(item, sort_keys=True)


def _content_changes(old: Iterable[Any], new: Iterable[Any]) -> dict[str, list[Any]]:
    """Items added and removed, as multisets (the same edge twice counts twice)."""
    removed = list(old)
    added: list[Any] = []
    remaining = {_key(item): 0 for item in removed}
    for item in removed:
        remaining[_key(item)] += 1
    for item in new:
        key = _key(item)
        if remaining.get(key, 0) > 0:
            remaining[key] -= 1
        else:
            added.append(item)
    gone: list[Any] = []
    for item in removed:
        key = _key(item)
        if remaining.get(key, 0) > 0:
            remaining[key] -= 1
            gone.append(item)
    return {"added": added, "removed": gone}


def _flow_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    options = sorted(
        key for key in set(old) | set(new)
        if key not in ("name", "edges", "failures") and old.get(key) != new.get(key)
    )
    return {
        "name": new["name"],
        "edges": _content_changes(old.get("edges", []), new.get("edges", [])),
        "failures": _content_changes(old.get("failures", []), new.get("failures", [])),
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
