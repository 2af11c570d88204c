"""``{VAR}`` expansion, where the documentation allows it (queues, storage configuration,
migration_dir, the sentry dsn).

The written template is kept next to the expanded value: the template is what is hashed and
exported, so one configuration revision means the same thing in every deployment, while the
expanded value is what runs here. ``{{`` and ``}}`` stand for literal braces (as in
``str.format``); braces around anything that is not a variable name are left alone, so
configuration values such as JSON snippets survive.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["MissingVariables", "expand", "expand_set", "expand_value", "variables"]

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


class MissingVariables(Exception):
    """Variables a template names that the environment does not define."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names

    def describe(self) -> str:
        listed = ", ".join(f"'{name}'" for name in self.names)
        noun = "variable" if len(self.names) == 1 else "variables"
        return f"environment {noun} {listed} not set"


def variables(template: str) -> list[str]:
    """The variable names ``template`` refers to, in order, without duplicates."""
    seen: dict[str, None] = {}
    for match in _PLACEHOLDER.finditer(template):
        if match.group(1):
            seen.setdefault(match.group(1), None)
    return list(seen)


def expand(template: str, environ: Mapping[str, str]) -> str:
    """Replace every ``{VAR}``; raises :class:`MissingVariables` naming all that are unset."""
    missing = [name for name in variables(template) if name not in environ]
    if missing:
        raise MissingVariables(missing)

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return environ[match.group(1)]

    return _PLACEHOLDER.sub(replace, template)


def expand_value(value: Any, environ: Mapping[str, str]) -> Any:
    """:func:`expand` every string inside JSON-like data (keys are left as written)."""
    missing: list[str] = []

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            try:
                return expand(item, environ)
            except MissingVariables as error:
                missing.extend(name for name in error.names if name not in missing)
                return item
        if isinstance(item, Mapping):
            return {key: walk(sub) for key, sub in item.items()}
        if isinstance(item, (list, tuple)):
            return [walk(sub) for sub in item]
        return item

    result = walk(value)
    if missing:
        raise MissingVariables(missing)
    return result


def expand_set(value: Any, environ: Mapping[str, str]) -> Any:
    """Storage configuration: replace the ``{VAR}`` that ``environ`` defines, leave all else.

    Selinon hands a storage's configuration to its adapter untouched, and adapters read their
    own placeholders (``'^\\d{3}-{name}$'``) and ``{{``: so here only an upper-case ``{VAR}``
    whose variable is set is replaced; any other placeholder stays as written (the worker,
    which has the secrets, resolves it when it builds the configuration).
    """
    if isinstance(value, str):
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name and name.isupper() and name in environ:
                return environ[name]
            return match.group(0)

        return _PLACEHOLDER.sub(replace, value)
    if isinstance(value, Mapping):
        return {key: expand_set(sub, environ) for key, sub in value.items()}
    if isinstance(value, (list, tuple)):
        return [expand_set(sub, environ) for sub in value]
    return value
