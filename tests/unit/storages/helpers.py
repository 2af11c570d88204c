"""Hand-built configurations for storage, cache, trace and task tests (no YAML loader needed)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from selinon_django.config.model import (
    CacheConfig,
    Edge,
    Flow,
    GlobalConfig,
    SourceFile,
    Storage,
    SystemConfig,
    Task,
    TraceEntry,
    freeze,
)

MEMORY = ("selinon_django.storages.memory", "InMemoryStorage")


def storage(
    name: str,
    module: str = MEMORY[0],
    classname: str = MEMORY[1],
    configuration: Mapping[str, Any] | None = None,
    cache: CacheConfig | None = None,
) -> Storage:
    conf = freeze(dict(configuration or {}))
    return Storage(name=name, module=module, classname=classname, configuration=conf, configuration_template=conf,
                   cache=cache)


def task(name: str, storage_name: str | None = "Memory", **kwargs: Any) -> Task:
    return Task(name=name, module="example_tasks", classname="Step", storage=storage_name, **kwargs)


def cache(name: str, module: str, **configuration: Any) -> CacheConfig:
    return CacheConfig(name=name, module=module, configuration=MappingProxyType(configuration))


def make_config(
    tasks: Iterable[Task] = (),
    storages: Iterable[Storage] = (),
    trace: Iterable[TraceEntry] = (),
    flows: Iterable[Flow] = (),
    sources: Iterable[SourceFile] = (),
) -> SystemConfig:
    storages = list(storages) or [storage("Memory")]
    task_list = list(tasks)
    flow_list = list(flows) or [
        Flow(name="flow1", edges=(Edge(index=0, from_=(), to=tuple(t.name for t in task_list) or ("Task1",)),))
    ]
    return SystemConfig(
        tasks=MappingProxyType({t.name: t for t in task_list}),
        storages=MappingProxyType({s.name: s for s in storages}),
        flows=MappingProxyType({f.name: f for f in flow_list}),
        global_config=GlobalConfig(trace=tuple(trace)),
        sources=tuple(sources),
    )


class Recorder:
    """A trace backend keeping ``(event, details)`` pairs."""

    def __init__(self) -> None:
        self.events: list[tuple[int, dict[str, Any]]] = []

    def __call__(self, event: int, details: dict[str, Any]) -> None:
        self.events.append((event, details))

    def names(self) -> list[str]:
        from selinon_django.trace.events import Trace

        return [Trace.event2str(e) for e, _ in self.events]
