"""Checks that need Python code: importing what the YAML names, and allowed module prefixes.

Loading never imports user code (the documentation's examples name modules that do not exist
and a configuration may be loaded where the tasks are not installed); these run on demand:
``selinon_inspect --check-imports`` and uploads that may only name allowed modules.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from selinon_django.config.checks import condition_leaves
from selinon_django.config.imports import allowed_import, import_object
from selinon_django.config.model import CacheConfig, SystemConfig
from selinon_django.errors import ConfigIssue
from selinon_django.predicates.calling import predicate_signature

__all__ = ["ImportSite", "check_imports", "disallowed_imports", "import_sites"]


@dataclass(frozen=True)
class ImportSite:
    """A Python object the configuration names: where (key path), what, and from which module."""

    path: str
    what: str
    module: str
    name: str | None  # None: the module itself (the predicates module)


def _cache_site(path: str, cache: CacheConfig | None) -> Iterator[ImportSite]:
    if cache is not None:
        yield ImportSite(f"{path}.cache", "cache class", cache.module, cache.name)


def import_sites(config: SystemConfig) -> Iterator[ImportSite]:
    """Every import the configuration implies, in a stable order."""
    for name in sorted(config.tasks):
        task = config.tasks[name]
        path = f"tasks.{name}"
        yield ImportSite(path, "task class", task.module, task.classname)
        if task.selective_run_function is not None:
            ref = task.selective_run_function
            yield ImportSite(f"{path}.selective_run_function", "selective run function", ref.module, ref.name)
        yield from _cache_site(path, task.cache)
    for name in sorted(config.storages):
        storage = config.storages[name]
        yield ImportSite(f"storages.{name}", "storage class", storage.module, storage.classname)
        yield from _cache_site(f"storages.{name}", storage.cache)
    yield ImportSite("global.predicates_module", "predicates module", config.global_config.predicates_module, None)
    for index, entry in enumerate(config.global_config.trace):
        if entry.kind == "function":
            module, function = str(entry.options["import"]), str(entry.options["name"])
            yield ImportSite(f"global.trace[{index}].function", "trace function", module, function)
    for name in sorted(config.flows):
        flow = config.flows[name]
        path = f"flow-definitions.{name}"
        for edge in flow.edges:
            if edge.foreach is not None:
                ref = edge.foreach.function
                yield ImportSite(f"{path}.edges[{edge.index}].foreach", "foreach function", ref.module, ref.name)
        sampling = flow.sampling
        yield ImportSite(f"{path}.sampling", "sampling strategy", sampling.module, sampling.name)
        yield from _cache_site(path, flow.cache)


def _predicate_issues(config: SystemConfig) -> list[ConfigIssue]:
    """Predicate names and arguments against their (importable) module; left-out conditions skipped."""
    issues: list[ConfigIssue] = []
    for flow_name in sorted(config.flows):
        flow = config.flows[flow_name]
        conditions = [(f"edges[{e.index}]", e.condition) for e in flow.edges if not e.condition_default]
        conditions += [(f"failures[{i}]", f.condition) for i, f in enumerate(flow.failures) if not f.condition_default]
        for prefix, condition in conditions:
            for predicate, path in condition_leaves(condition):
                where = f"flow-definitions.{flow_name}.{prefix}.{path}"
                try:
                    module = importlib.import_module(predicate.module)
                except Exception:
                    continue  # reported once as the predicates module import
                function = getattr(module, predicate.name, None)
                if not callable(function):
                    message = f"predicate '{predicate.name}' not found in '{predicate.module}'"
                    issues.append(ConfigIssue("", where, message))
                    continue
                try:
                    signature = predicate_signature(function)
                except (TypeError, ValueError):
                    continue
                given = set(predicate.args)
                for missing in sorted(signature.required_args - given):
                    issues.append(ConfigIssue("", where, f"predicate '{predicate.name}' needs argument '{missing}'"))
                if "**" not in signature.optional_args:
                    for extra in sorted(given - signature.required_args - signature.optional_args):
                        message = f"predicate '{predicate.name}' takes no argument '{extra}'"
                        issues.append(ConfigIssue("", where, message))
    return issues


def check_imports(config: SystemConfig) -> list[ConfigIssue]:
    """Import every object the configuration names; one issue per failure (empty: all good)."""
    issues: list[ConfigIssue] = []
    for site in import_sites(config):
        try:
            if site.name is None:
                importlib.import_module(site.module)
            else:
                import_object(site.module, site.name)
        except AttributeError:
            issues.append(ConfigIssue("", site.path, f"{site.what} '{site.name}' not found in module '{site.module}'"))
        except Exception as error:  # ImportError, or whatever the module raises while importing
            message = f"cannot import {site.what} from '{site.module}': {type(error).__name__}: {error}"
            issues.append(ConfigIssue("", site.path, message))
    issues.extend(_predicate_issues(config))
    return issues


def disallowed_imports(config: SystemConfig, prefixes: Sequence[str]) -> list[ConfigIssue]:
    """Imports outside ``prefixes`` (``selinon_django`` is always allowed); nothing is imported."""
    allowed = ", ".join(["selinon_django", *prefixes])
    return [
        ConfigIssue("", site.path, f"{site.what} module '{site.module}' is not allowed (allowed: {allowed})")
        for site in import_sites(config)
        if not allowed_import(site.module, prefixes)
    ]
