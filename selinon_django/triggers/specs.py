"""Trigger-task specifications: validated with the ``triggerTask`` schema of the YAML layer.

One schema for both ways of configuring a session (``triggers:`` in YAML and
:meth:`TriggerManager.update_configuration` in Python) keeps them from drifting apart.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jsonschema

from selinon_django.config.model import thaw
from selinon_django.config.validation import load_schema
from selinon_django.errors import SelinonDjangoError

__all__ = ["TriggerConfigurationError", "TriggerSpec", "parse_configuration"]


class TriggerConfigurationError(SelinonDjangoError, ValueError):
    """A trigger configuration given in Python (or stored) was refused."""


@dataclass(frozen=True)
class TriggerSpec:
    """One trigger task: run ``run`` once every trigger of ``after`` has fired."""

    name: str
    after: tuple[str, ...]
    run: str
    max_retries: int | None = None
    queue: str | None = None
    priority: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"after": list(self.after), "run": self.run}
        for key in ("max_retries", "queue", "priority"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


@lru_cache(maxsize=1)
def _validator() -> Any:
    schema = load_schema()
    entry = {"$ref": "#/$defs/triggerTask", "$defs": schema["$defs"]}
    return jsonschema.Draft202012Validator(entry)


def parse_configuration(raw: Mapping[str, Any] | None) -> dict[str, TriggerSpec]:
    """``{name: TriggerSpec}`` of ``{name: {"after": ..., "run": ...}}``; every problem is reported."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise TriggerConfigurationError(f"a trigger configuration is a mapping of task names, not {type(raw).__name__}")
    problems: list[str] = []
    specs: dict[str, TriggerSpec] = {}
    for name, entry in thaw(raw).items():
        if not isinstance(name, str) or not name:
            problems.append(f"{name!r}: a trigger task name must be a non-empty string")
            continue
        errors = sorted(_validator().iter_errors(entry), key=lambda e: list(e.absolute_path))
        if errors:
            for error in errors:
                where = ".".join(str(p) for p in error.absolute_path)
                problems.append(f"{name}{'.' + where if where else ''}: {error.message}")
            continue
        after = (entry["after"],) if isinstance(entry["after"], str) else tuple(entry["after"])
        specs[name] = TriggerSpec(
            name=name, after=after, run=entry["run"], max_retries=entry.get("max_retries"),
            queue=entry.get("queue"), priority=entry.get("priority"),
        )
    if problems:
        raise TriggerConfigurationError("invalid trigger configuration: " + "; ".join(problems))
    return specs
