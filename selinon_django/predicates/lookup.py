"""Helpers shared by the built-in predicates: nested key lookup and the never-raise guard."""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlparse

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


def is_int(value: Any) -> bool:
    """``isinstance(value, int)`` without booleans: YAML/JSON ``true`` is not a number to a user."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_empty(value: Any) -> bool:
    """Null, or a sized value with no items."""
    if value is None:
        return True
    try:
        return len(value) == 0
    except TypeError:
        return False


def url_part(value: Any, part: str) -> Any:
    """A component of a URL string (``netloc``, ``path``, ``scheme``), or MISSING for non-strings."""
    if not isinstance(value, str):
        return MISSING
    return getattr(urlparse(value), part)


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
