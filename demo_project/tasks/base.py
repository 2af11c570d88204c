"""Helpers shared by the demo tasks: the package a task works on and its parents' results.

Parent mappings come in three shapes (a task id; a propagated sub-flow's nested finished nodes;
its compound, flattened form), so reading them is done once here rather than in every task.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from demo_project.tasks import catalog
from selinon_django.task import SelinonTask


class PackageTask(SelinonTask):
    """A task that analyses one package, named by its ``node_args``."""

    def package(self, node_args: Any) -> dict[str, str]:
        return catalog.coordinates(node_args)

    def direct_parents(self) -> list[str]:
        """Names of the parent *tasks* (entries whose value is a task id), in mapping order."""
        parent = self.parent or {}
        return [name for name, value in parent.items() if isinstance(value, str)]

    def first_parent_result(self) -> Any:
        """The result of the only (or first) parent task, None without one.

        Tasks reached from alternative fallbacks (primary, backup or vendor mirror) use this so
        they need not know which of them ran.
        """
        names = self.direct_parents()
        if not names:
            return None
        return self.parent_task_result(names[0])

    def subflow_task_ids(self, flow_name: str) -> dict[str, list[str]]:
        """Every task of a propagated sub-flow (nested or compound) -> its finished ids."""
        parent = self.parent or {}
        return flatten_finished(parent.get(flow_name))

    def subflow_results(self, task_name: str) -> list[Any]:
        """Results of every instance of ``task_name`` finished in propagated sub-flows.

        With ``propagate_finished`` the ids sit under the sub-flow path (asked for with a list
        of flow names); with ``propagate_compound_finished`` they are flat under the top
        sub-flow. Both are read here through ``parent_flow_result``.
        """
        results: list[Any] = []
        for flow_name, entry in (self.parent or {}).items():
            if not isinstance(entry, Mapping):
                continue
            for below, name, count in subflow_paths(entry):
                if name != task_name:
                    continue
                flows = [flow_name, *below]
                for index in range(count):
                    results.append(self.parent_flow_result(flows if len(flows) > 1 else flow_name, name, index=index))
        return results


def flatten_finished(entry: Any) -> dict[str, list[str]]:
    """Flatten a propagated sub-flow entry to ``{task: [ids]}``.

    ``propagate_finished`` nests sub-flows (``{task: [ids], subflow: {...}}``);
    ``propagate_compound_finished`` is already flat. Both read the same here.
    """
    found: dict[str, list[str]] = {}
    if not isinstance(entry, Mapping):
        return found
    for name, value in entry.items():
        if isinstance(value, Mapping):
            for inner, ids in flatten_finished(value).items():
                found.setdefault(inner, []).extend(ids)
        elif isinstance(value, (list, tuple)):
            found.setdefault(name, []).extend(str(v) for v in value)
        elif isinstance(value, str):
            found.setdefault(name, []).append(value)
    return found


def subflow_paths(entry: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str, int]]:
    """``(flow path below the entry, task name, instance count)`` for a nested finished entry.

    The flow path is what :meth:`SelinonTask.parent_flow_result` wants after the top flow name
    when ``propagate_finished`` keeps the nesting.
    """
    rows: list[tuple[tuple[str, ...], str, int]] = []
    if not isinstance(entry, Mapping):
        return rows
    for name, value in entry.items():
        if isinstance(value, Mapping):
            rows.extend(subflow_paths(value, (*prefix, name)))
        elif isinstance(value, (list, tuple)):
            rows.append((prefix, name, len(value)))
    return rows
