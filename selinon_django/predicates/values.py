"""The checks a built-in predicate applies to one value, each written once.

``fieldGreater`` (a key of the node's result) and ``argsFieldGreater`` (a key of the flow
arguments) differ only in where the value comes from; so do ``fieldInt``, ``argsFieldInt``,
``isInt`` and ``argsIsInt``. The families fetch the value and call the check named here, so a
fix to a check reaches every predicate that uses it.

``actual`` is the value under test; the other parameters are named after the YAML ``args`` they
receive. A check may raise on a value of the wrong type (``len(3)``, ``'a' > 1``): the
predicates' ``never_raises`` guard turns that into ``False``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

# Type checks (``fieldX``/``argsFieldX`` on a key, ``isX``/``argsIsX`` on the whole value).


def is_bool(actual: Any) -> bool:
    return isinstance(actual, bool)


def is_dict(actual: Any) -> bool:
    return isinstance(actual, Mapping)


def is_float(actual: Any) -> bool:
    return isinstance(actual, float)


def is_int(actual: Any) -> bool:
    """``isinstance(actual, int)`` without booleans: YAML/JSON ``true`` is not a number to a user."""
    return isinstance(actual, int) and not isinstance(actual, bool)


def is_list(actual: Any) -> bool:
    return isinstance(actual, (list, tuple))


def is_none(actual: Any) -> bool:
    return actual is None


def is_str(actual: Any) -> bool:
    return isinstance(actual, str)


def is_empty(actual: Any) -> bool:
    """Null, or a sized value with no items (anything without a length is not empty)."""
    if actual is None:
        return True
    try:
        return len(actual) == 0
    except TypeError:
        return False


# Comparisons with the YAML ``value``.


def equal(actual: Any, value: Any) -> bool:
    return bool(actual == value)


def not_equal(actual: Any, value: Any) -> bool:
    return bool(actual != value)


def greater(actual: Any, value: Any) -> bool:
    return bool(actual > value)


def greater_equal(actual: Any, value: Any) -> bool:
    return bool(actual >= value)


def less(actual: Any, value: Any) -> bool:
    return bool(actual < value)


def less_equal(actual: Any, value: Any) -> bool:
    return bool(actual <= value)


def contains(actual: Any, value: Any) -> bool:
    return value in actual


# Comparisons of the length with the YAML ``length``.


def length_equal(actual: Any, length: int) -> bool:
    return len(actual) == length


def length_not_equal(actual: Any, length: int) -> bool:
    return len(actual) != length


def length_greater(actual: Any, length: int) -> bool:
    return len(actual) > length


def length_greater_equal(actual: Any, length: int) -> bool:
    return len(actual) >= length


def length_less(actual: Any, length: int) -> bool:
    return len(actual) < length


def length_less_equal(actual: Any, length: int) -> bool:
    return len(actual) <= length


# Parts of a URL string, compared with the YAML ``scheme``/``netloc``/``path``.


def url_part_equal(actual: Any, part: str, expected: Any) -> bool:
    """True when ``actual`` is a string whose URL ``part`` equals ``expected``; other types are not URLs."""
    return isinstance(actual, str) and getattr(urlparse(actual), part) == expected
