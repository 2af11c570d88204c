"""selinon_django: Selinon-style task flows on Celery, defined in YAML and kept in Django models.

The public names are Selinon's own (``SelinonTask``, ``run_flow``, ``FatalTaskError``...).
They are resolved lazily so that importing this package never imports Django models or
Celery before Django is set up.

Importing the package also makes ``import selinon`` work for existing Selinon code when the
``selinon`` distribution is not installed (see :mod:`selinon_django.compat`): Django imports
this package while it loads ``INSTALLED_APPS``, before any task module is imported.
"""
from __future__ import annotations

import importlib
from typing import Any

from selinon_django.compat import install_selinon_alias

__version__ = "0.1.0"

install_selinon_alias()

# public name -> module that defines it
_EXPORTS = {
    "SelinonTask": "selinon_django.task",
    "FatalTaskError": "selinon_django.errors",
    "SelectiveNoPathError": "selinon_django.errors",
    "ConfigurationError": "selinon_django.errors",
    "DataStorage": "selinon_django.storages.base",
    "StoragePool": "selinon_django.storages.pool",
    "Trace": "selinon_django.trace.events",
    "run_flow": "selinon_django.runtime.api",
    "run_flow_selective": "selinon_django.runtime.api",
    "cancel_flow": "selinon_django.runtime.api",
    "retry_flow": "selinon_django.runtime.api",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'selinon_django' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
