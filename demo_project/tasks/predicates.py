"""The demo's predicates module (``global.predicates_module``).

Selinon imports *every* predicate named in conditions from the configured module, so a custom
module replaces the built-in one rather than extending it. This module therefore re-exports all
built-in predicates and adds the demo's own, each declared with ``@predicate`` (a condition may
name only declared functions). Predicates must never raise: they return False when
the data does not fit.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from selinon_django.predicates import *  # noqa: F403 - re-export every built-in predicate by name
from selinon_django.predicates import predicate


@predicate
def isLargePackage(message: Any, threshold: float) -> bool:
    """True when the node's result reports ``size_kb`` above ``threshold``."""
    if not isinstance(message, Mapping):
        return False
    size = message.get("size_kb")
    try:
        return isinstance(size, (int, float)) and not isinstance(size, bool) and size > float(threshold)
    except (TypeError, ValueError):
        return False


@predicate
def hasPermissiveLicense(message: Any) -> bool:
    """True when the node's result names a license the demo considers permissive."""
    from demo_project.tasks.catalog import PERMISSIVE_LICENSES

    return isinstance(message, Mapping) and message.get("license") in PERMISSIVE_LICENSES
