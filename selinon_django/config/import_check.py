"""Checks that need Python code: importing what the YAML names, and allowed module prefixes.

Loading never imports user code (the documentation's examples name modules that do not exist
and a configuration may be loaded where the tasks are not installed); these run on demand:
``selinon_inspect --check-imports`` and uploads that may only name allowed modules.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence

from selinon_django.config.checks import condition_leaves
from selinon_django.config.imports import import_object
from selinon_django.config.model import ImportSite, SystemConfig
from selinon_django.config.trust import command_trust, refused_imports
from selinon_django.errors import ConfigIssue
from selinon_django.predicates.calling import predicate_signature
from selinon_django.predicates.declared import PredicateRefused, declared_predicate

__all__ = ["ImportSite", "check_imports", "disallowed_imports", "import_sites"]


def import_sites(config: SystemConfig) -> Iterator[ImportSite]:
    """Every import the configuration implies, in the order the parser met them."""
    yield from config.imports


def _predicate_issues(config: SystemConfig, predicate_modules: Sequence[str]) -> list[ConfigIssue]:
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
                    function = declared_predicate(predicate.module, predicate.name, predicate_modules)
                except PredicateRefused as refused:
                    issues.append(ConfigIssue("", where, str(refused)))
                    continue
                except Exception:
                    continue  # reported once as the predicates module import
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


def check_imports(config: SystemConfig, predicate_modules: Sequence[str] = ()) -> list[ConfigIssue]:
    """Import every object the configuration names; one issue per failure (empty: all good).

    ``predicate_modules``: the ``PREDICATES_MODULES`` setting (see
    :mod:`selinon_django.predicates.declared`).
    """
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
    issues.extend(_predicate_issues(config, predicate_modules))
    return issues


def disallowed_imports(config: SystemConfig, prefixes: Sequence[str]) -> list[ConfigIssue]:
    """Imports a load restricted to ``prefixes`` would refuse (the app's own modules only where
    the kind of object allows them, see :mod:`selinon_django.config.trust`); nothing is imported."""
    return refused_imports(config.imports, command_trust(import_prefixes=prefixes))
