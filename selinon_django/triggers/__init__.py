"""Triggers: named events fired within a session start trigger tasks and flows.

The application fires triggers (``fire(session, "paid", {"amount": 10})``); a trigger task runs
once every trigger in its ``after`` list has fired in that session, and its success fires a
trigger of its own name carrying its result (a cascade). A trigger task's ``run`` is a
:class:`~selinon_django.triggers.task.TriggerTask` class or the name of a flow.

The public names are loaded lazily: the models module imports :mod:`.receivers` while Django
is still loading models, so this package must not import models when it is imported.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "TriggerManager": "manager",
    "fire": "manager",
    "update_configuration": "manager",
    "TaskContext": "task",
    "TriggerTask": "task",
    "MaxRetriesExceeded": "task",
    "KwargsRefused": "filtering",
    "TriggerConfigurationError": "specs",
    "selinon_task": "decorators",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
