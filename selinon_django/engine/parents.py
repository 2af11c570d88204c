"""The ``parent`` mapping a started node receives, including propagated sub-flow results.

A task started by an edge gets ``{source name: instance id}`` for the combination that fired.
A source that is a *sub-flow* is special (as in the reference): by default it is left out, since
a flow has no result of its own; with ``propagate_finished`` covering it, the task gets the
sub-flow's finished nodes nested by flow (``parent[flow2] = {"Task4": [ids], "flow3": {...}}``);
with ``propagate_compound_finished`` it gets them flattened over every nesting level
(``parent[flow2] = {"Task4": [ids], "Task6": [ids]}``). Several runs of the same nested
sub-flow are merged, ids kept in finishing order.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from selinon_django.config.model import Flow, SystemConfig, selects
from selinon_django.engine.ports import Ports

__all__ = ["compound_finished", "edge_parent", "nested_finished"]


def _merge_nested(into: dict[str, Any], other: Mapping[str, Any]) -> dict[str, Any]:
    for name, value in other.items():
        if isinstance(value, Mapping):
            into[name] = _merge_nested(dict(into.get(name) or {}), value)
        else:
            into[name] = [*into.get(name, []), *value]
    return into


def nested_finished(config: SystemConfig, ports: Ports, flow_name: str, run_id: str) -> dict[str, Any]:
    """Finished nodes of a sub-flow run, nested sub-flows as nested dicts (``propagate_finished``)."""
    result: dict[str, Any] = {}
    for name, ids in ports.subflow_finished_nodes(flow_name, run_id).items():
        if config.is_flow(name):
            merged: dict[str, Any] = dict(result.get(name) or {})
            for sub_id in ids:
                merged = _merge_nested(merged, nested_finished(config, ports, name, sub_id))
            result[name] = merged
        else:
            result[name] = [*result.get(name, []), *ids]
    return result


def compound_finished(config: SystemConfig, ports: Ports, flow_name: str, run_id: str) -> dict[str, list[str]]:
    """Finished tasks of a sub-flow run and all its nested runs, flattened (``propagate_compound_finished``)."""
    result: dict[str, list[str]] = {}
    for name, ids in ports.subflow_finished_nodes(flow_name, run_id).items():
        if config.is_flow(name):
            for sub_id in ids:
                for task, task_ids in compound_finished(config, ports, name, sub_id).items():
                    result[task] = [*result.get(task, []), *task_ids]
        else:
            result[name] = [*result.get(name, []), *ids]
    return result


def edge_parent(config: SystemConfig, flow: Flow, ports: Ports, sources: Mapping[str, str]) -> dict[str, Any]:
    """The parent mapping for the nodes an edge combination starts (see the module docstring)."""
    parent: dict[str, Any] = {}
    for name, node_id in sources.items():
        if not config.is_flow(name):
            parent[name] = node_id
        elif selects(flow.propagate_finished, name):
            parent[name] = nested_finished(config, ports, name, node_id)
        elif selects(flow.propagate_compound_finished, name):
            parent[name] = compound_finished(config, ports, name, node_id)
    return parent
