"""A configuration as canonical, JSON-ready data, and its content hash.

The normalised form is itself valid Selinon YAML data (top-level ``tasks``, ``storages``,
``flows``, ``global``, ``flow-definitions``), so it can be stored, exported and loaded again.
It is canonical where the YAML's order or spelling carries no meaning: tasks, storages, flows
and failures are sorted, defaults are left out, both spellings become one, ``throttling``
becomes seconds, and ``selinon.`` imports are already resolved. Edge order is kept (an edge's
index is its identity). ``{VAR}`` templates are kept unexpanded, so the hash of a configuration
is the same in every environment.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from selinon_django.config.imports import DEFAULT_PREDICATES_MODULE
from selinon_django.config.model import (
    And,
    CacheConfig,
    Condition,
    Edge,
    Failure,
    Flow,
    GlobalConfig,
    NodeSelector,
    Not,
    Or,
    Predicate,
    Sampling,
    Storage,
    SystemConfig,
    Task,
    TraceEntry,
    thaw,
)

__all__ = ["canonical_json", "condition_data", "content_hash", "edge_data", "failure_data", "normalise"]

_DEFAULT_SAMPLING = Sampling()


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _selector(value: NodeSelector) -> bool | list[str]:
    return value if isinstance(value, bool) else sorted(value)


def _cache(cache: CacheConfig) -> dict[str, Any]:
    data: dict[str, Any] = {"name": cache.name, "import": cache.module}
    if cache.configuration:
        data["configuration"] = thaw(cache.configuration)
    return data


def condition_data(condition: Condition) -> dict[str, Any]:
    """A condition tree in the shape Selinon YAML writes it (``and``/``or``/``not``/leaf); also what
    revision rows and migration files show of a condition."""
    if isinstance(condition, And):
        return {"and": [condition_data(child) for child in condition.children]}
    if isinstance(condition, Or):
        return {"or": [condition_data(child) for child in condition.children]}
    if isinstance(condition, Not):
        return {"not": condition_data(condition.child)}
    data: dict[str, Any] = {"name": condition.name}
    if condition.node is not None:
        data["node"] = condition.node
    if condition.args:
        data["args"] = thaw(condition.args)
    return data


def _is_always_true(condition: Condition) -> bool:
    if not isinstance(condition, Predicate):
        return False
    return condition.name == "alwaysTrue" and not condition.args and condition.node is None


def _task(task: Task) -> dict[str, Any]:
    data: dict[str, Any] = {"name": task.name, "import": task.module}
    if task.classname != task.name:
        data["classname"] = task.classname
    if task.max_retry:
        data["max_retry"] = task.max_retry
    if task.retry_countdown:
        data["retry_countdown"] = _number(task.retry_countdown)
    if task.output_schema is not None:
        data["output_schema"] = task.output_schema
    if task.storage is not None:
        data["storage"] = task.storage
    if task.storage_read_only:
        data["storage_read_only"] = True
    if task.storage_task_name is not None:
        data["storage_task_name"] = task.storage_task_name
    if task.selective_run_function is not None:
        ref = task.selective_run_function
        data["selective_run_function"] = {"function": ref.name, "import": ref.module}
    queue = task.queue_template if task.queue_template is not None else task.queue
    if queue is not None:
        data["queue"] = queue
    if task.throttling:
        data["throttling"] = {"seconds": _number(task.throttling)}
    if task.cache is not None:
        data["cache"] = _cache(task.cache)
    for key in ("time_limit", "soft_time_limit"):
        value = getattr(task, key)
        if value is not None:
            data[key] = _number(value)
    if task.rate_limit is not None:
        data["rate_limit"] = task.rate_limit
    if task.priority is not None:
        data["priority"] = task.priority
    return data


def _storage(storage: Storage) -> dict[str, Any]:
    data: dict[str, Any] = {"name": storage.name, "import": storage.module}
    if storage.classname != storage.name:
        data["classname"] = storage.classname
    if storage.configuration_template:
        data["configuration"] = thaw(storage.configuration_template)
    if storage.cache is not None:
        data["cache"] = _cache(storage.cache)
    return data


def _trace(entry: TraceEntry) -> dict[str, Any]:
    if entry.kind in ("logging", "json"):
        return {entry.kind: True}
    return {entry.kind: thaw(entry.options_template or entry.options)}


def _global(config: GlobalConfig) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if config.predicates_module != DEFAULT_PREDICATES_MODULE:
        data["predicates_module"] = config.predicates_module
    for key in ("default_task_queue", "default_dispatcher_queue"):
        template = getattr(config, f"{key}_template")
        value = template if template is not None else getattr(config, key)
        if value != "celery":
            data[key] = value
    if config.trace:
        data["trace"] = [_trace(entry) for entry in config.trace]
    migration_dir = config.migration_dir_template or config.migration_dir
    if migration_dir is not None:
        data["migration_dir"] = migration_dir
    return data


def edge_data(edge: Edge) -> dict[str, Any]:
    """An edge as the normalised configuration holds it (what a diff compares edges by)."""
    data: dict[str, Any] = {"from": list(edge.from_) or None, "to": list(edge.to)}
    if not _is_always_true(edge.condition):
        data["condition"] = condition_data(edge.condition)
    if edge.foreach is not None:
        foreach: dict[str, Any] = {"function": edge.foreach.function.name, "import": edge.foreach.function.module}
        if edge.foreach.propagate_result:
            foreach["propagate_result"] = True
        data["foreach"] = foreach
    if edge.selective is not None:
        selective: dict[str, Any] = {"tasks": list(edge.selective.tasks)}
        if edge.selective.follow_subflows:
            selective["follow_subflows"] = True
        if edge.selective.run_subsequent:
            selective["run_subsequent"] = True
        data["selective"] = selective
    return data


def failure_data(failure: Failure) -> dict[str, Any]:
    """A ``failures:`` entry as the normalised configuration holds it."""
    data: dict[str, Any] = {
        "nodes": sorted(failure.nodes),
        "fallback": True if failure.fallback is True else list(failure.fallback),
    }
    if not _is_always_true(failure.condition):
        data["condition"] = condition_data(failure.condition)
    return data


def _sampling(sampling: Sampling) -> dict[str, Any] | None:
    args = thaw(sampling.args)
    default = _DEFAULT_SAMPLING
    if sampling.name == default.name and sampling.module == default.module and args == thaw(default.args):
        return None
    return {"name": sampling.name, "import": sampling.module, "args": args}


def _flow(flow: Flow) -> dict[str, Any]:
    data: dict[str, Any] = {"name": flow.name}
    queue = flow.queue_template if flow.queue_template is not None else flow.queue
    if queue is not None:
        data["queue"] = queue
    for key in ("propagate_parent", "propagate_finished", "propagate_compound_finished", "propagate_node_args"):
        value = getattr(flow, key)
        if value is not False:
            data[key] = _selector(value)
    if flow.node_args_from_first:
        data["node_args_from_first"] = True
    if flow.nowait:
        data["nowait"] = sorted(flow.nowait)
    if flow.eager_failures is not False:
        data["eager_failures"] = _selector(flow.eager_failures)
    if flow.max_retry:
        data["max_retry"] = flow.max_retry
    if flow.retry_countdown:
        data["retry_countdown"] = _number(flow.retry_countdown)
    sampling = _sampling(flow.sampling)
    if sampling is not None:
        data["sampling"] = sampling
    if flow.throttling:
        data["throttling"] = {"seconds": _number(flow.throttling)}
    if flow.cache is not None:
        data["cache"] = _cache(flow.cache)
    data["edges"] = [edge_data(edge) for edge in flow.edges]
    if flow.failures:
        data["failures"] = sorted((failure_data(f) for f in flow.failures), key=canonical_json)
    return data


#: the normalised configuration's key for ``output_schema`` documents (not Selinon YAML: the
#: loader takes it from normalised data only, and export leaves it out)
OUTPUT_SCHEMAS_KEY = "output_schemas"


def normalise(config: SystemConfig) -> dict[str, Any]:
    """Deterministic, JSON-ready data of ``config`` that loads back to an equal configuration."""
    data = {
        "tasks": [_task(config.tasks[name]) for name in sorted(config.tasks)],
        "storages": [_storage(config.storages[name]) for name in sorted(config.storages)],
        "flows": sorted(config.flows),
        "global": _global(config.global_config),
        "flow-definitions": [_flow(config.flows[name]) for name in sorted(config.flows)],
    }
    triggers = getattr(config, "triggers", None)
    if triggers:
        # only when present: configurations without triggers keep their content hash
        data["triggers"] = {name: thaw(triggers[name]) for name in sorted(triggers)}
    if config.schedules:
        data["schedules"] = {name: thaw(config.schedules[name]) for name in sorted(config.schedules)}
    schemas = {
        task.output_schema: thaw(task.output_schema_document)
        for task in config.tasks.values()
        if task.output_schema is not None and task.output_schema_document is not None
    }
    if schemas:
        # the documents themselves: runs never read schema files (see config.schemas)
        data[OUTPUT_SCHEMAS_KEY] = {path: schemas[path] for path in sorted(schemas)}
    return data


def canonical_json(data: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text: equal data gives equal text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def content_hash(config: SystemConfig) -> str:
    """sha256 hex digest of the canonical JSON of :func:`normalise`."""
    return hashlib.sha256(canonical_json(normalise(config)).encode("utf-8")).hexdigest()
