"""Build :class:`SystemConfig` objects from YAML-like dicts, without the YAML loader.

Keeps engine tests independent of the config layer's parser: a flow is written as the dict its
YAML would load to, every node named in a flow that is not a flow becomes a task.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from selinon_django.config.model import (
    ALWAYS_TRUE,
    And,
    Condition,
    Edge,
    Failure,
    Flow,
    Foreach,
    ImportRef,
    Not,
    Or,
    Predicate,
    Sampling,
    Selective,
    SystemConfig,
    Task,
    freeze,
)

PREDICATES = "selinon_django.predicates"


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _selector(value: Any) -> bool | frozenset[str]:
    if isinstance(value, bool):
        return value
    return frozenset(_names(value))


def condition(data: Mapping[str, Any] | None, module: str = PREDICATES) -> Condition:
    if data is None:
        return ALWAYS_TRUE
    if "and" in data:
        return And(tuple(condition(child, module) for child in data["and"]))
    if "or" in data:
        return Or(tuple(condition(child, module) for child in data["or"]))
    if "not" in data:
        return Not(condition(data["not"], module))
    return Predicate(name=data["name"], node=data.get("node"), args=freeze(data.get("args", {})), module=module)


def flow(name: str, data: Mapping[str, Any], module: str = PREDICATES) -> Flow:
    edges = []
    for index, edge in enumerate(data["edges"]):
        foreach = edge.get("foreach")
        selective = edge.get("selective")
        edges.append(
            Edge(
                index=index,
                from_=_names(edge.get("from")),
                to=_names(edge["to"]),
                condition=condition(edge.get("condition"), module),
                condition_default="condition" not in edge,
                foreach=Foreach(
                    function=ImportRef(foreach["import"], foreach["function"]),
                    propagate_result=foreach.get("propagate_result", False),
                )
                if foreach
                else None,
                selective=Selective(
                    tasks=_names(selective["tasks"]),
                    follow_subflows=selective.get("follow_subflows", False),
                    run_subsequent=selective.get("run_subsequent", False),
                )
                if selective
                else None,
            )
        )
    failures = []
    for failure in data.get("failures", ()):
        fallback = failure["fallback"]
        failures.append(
            Failure(
                nodes=frozenset(_names(failure["nodes"])),
                fallback=True if fallback is True else _names(fallback),
                condition=condition(failure.get("condition"), module),
                condition_default="condition" not in failure,
                nodes_order=_names(failure["nodes"]),
            )
        )
    sampling = data.get("sampling")
    return Flow(
        name=name,
        edges=tuple(edges),
        failures=tuple(failures),
        propagate_parent=_selector(data.get("propagate_parent", False)),
        propagate_finished=_selector(data.get("propagate_finished", False)),
        propagate_compound_finished=_selector(data.get("propagate_compound_finished", False)),
        propagate_node_args=_selector(data.get("propagate_node_args", False)),
        node_args_from_first=data.get("node_args_from_first", False),
        nowait=frozenset(_names(data.get("nowait"))),
        eager_failures=_selector(data.get("eager_failures", False)),
        max_retry=data.get("max_retry", 0),
        retry_countdown=data.get("retry_countdown", 0),
        sampling=Sampling(
            name=sampling["name"],
            module=sampling.get("import", "selinon_django.strategies"),
            args=MappingProxyType(sampling.get("args", {})),
            default=False,
        )
        if sampling
        else Sampling(),
        throttling=data.get("throttling"),
    )


def system(
    flows: Mapping[str, Mapping[str, Any]],
    tasks: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    predicates_module: str = PREDICATES,
) -> SystemConfig:
    """A whole configuration; ``tasks`` only for tasks that need options (max_retry, throttling, ...)."""
    built = {name: flow(name, data, predicates_module) for name, data in flows.items()}
    task_names: set[str] = set()
    for item in built.values():
        task_names |= {name for name in item.nodes() if name not in built}
    task_options = dict(tasks or {})
    task_names |= set(task_options)
    built_tasks = {}
    for name in sorted(task_names):
        options = dict(task_options.get(name, {}))
        srf = options.pop("selective_run_function", None)
        built_tasks[name] = Task(
            name=name,
            module="tests.tasks",
            classname=name,
            selective_run_function=ImportRef(*srf) if srf else None,
            **options,
        )
    return SystemConfig(
        tasks=MappingProxyType(built_tasks), storages=MappingProxyType({}), flows=MappingProxyType(built)
    )
