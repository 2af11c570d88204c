"""Helpers shared by the built-in predicates: nested key lookup, check-at-key and the never-raise guard."""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from selinon_django.predicates.values import is_int

#: One key, or a list of keys for a nested lookup (``['foo', 'bar']`` -> ``x['foo']['bar']``).
Key = str | int | Sequence[str | int]


class _Missing:
    """Sentinel type: ``None`` is a legitimate value, so absence needs its own marker."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

F = TypeVar("F", bound=Callable[..., bool])


def lookup(container: Any, key: Key) -> Any:
    """The value at ``key`` (a key or a list of keys), or :data:`MISSING`.

    Integer keys index lists too, so a result like ``{"items": [{"a": 1}]}`` can be read with
    ``['items', 0, 'a']``.
    """
    keys: Sequence[Any] = key if isinstance(key, (list, tuple)) else (key,)
    current = container
    for part in keys:
        if isinstance(current, Mapping):
            try:
                if part not in current:
                    return MISSING
            except TypeError:  # unhashable key
                return MISSING
            current = current[part]
        elif isinstance(current, (list, tuple)) and is_int(part):
            if not -len(current) <= part < len(current):
                return MISSING
            current = current[part]
        else:
            return MISSING
    return current


def check_at(container: Any, key: Key, check: Callable[..., bool], *check_args: Any) -> bool:
    """``check(value, *check_args)`` on the value at ``key``; ``False`` when the key is missing.

    Every ``field*``/``argsField*`` predicate is this call with its own check from
    :mod:`selinon_django.predicates.values`, so "a missing key is False" is decided here only.
    """
    value = lookup(container, key)
    return value is not MISSING and bool(check(value, *check_args))


def never_raises(fn: F) -> F:
    """Turn any exception into ``False``: a predicate runs in the dispatcher and must not stall it.

    ``functools.wraps`` keeps ``__wrapped__``, so :func:`inspect.signature` still reports the
    real parameters (the loader checks YAML ``args`` against them).
    """

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> bool:
        try:
            return bool(fn(*args, **kwargs))
        except Exception:
            return False

    return guarded  # type: ignore[return-value]
