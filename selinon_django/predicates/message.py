"""Predicates over the node's result (Selinon's ``field*`` names and signatures).

Every predicate returns a bool and never raises: a missing key or a value of the wrong type is
simply ``False``, because predicates run inside the dispatcher where an exception would stall
the flow. ``key`` is one key or a list of keys for a nested lookup (``['foo', 'bar']`` reads
``message['foo']['bar']``).

The checks themselves live in :mod:`selinon_django.predicates.values`, shared with the other
family; each function here only says that the value is read from the node's result.
"""
from __future__ import annotations

from typing import Any

from selinon_django.predicates import values
from selinon_django.predicates.lookup import MISSING, Key, check_at, lookup, never_raises

__all__ = [
    "empty",
    "fieldBool",
    "fieldContain",
    "fieldDict",
    "fieldEqual",
    "fieldExist",
    "fieldFloat",
    "fieldGreater",
    "fieldGreaterEqual",
    "fieldInt",
    "fieldLenEqual",
    "fieldLenGreater",
    "fieldLenGreaterEqual",
    "fieldLenLess",
    "fieldLenLessEqual",
    "fieldLenNotEqual",
    "fieldLess",
    "fieldLessEqual",
    "fieldList",
    "fieldNone",
    "fieldNotEqual",
    "fieldStr",
    "fieldUrlNetloc",
    "fieldUrlPath",
    "fieldUrlScheme",
    "isBool",
    "isDict",
    "isFloat",
    "isInt",
    "isList",
    "isNone",
    "isStr",
]


@never_raises
def fieldBool(message: Any, key: Key) -> bool:
    """True when the value is a boolean (at ``key`` of the node's result)."""
    return check_at(message, key, values.is_bool)


@never_raises
def fieldContain(message: Any, key: Key, value: Any) -> bool:
    """True when the value contains ``value`` (``in``) (at ``key`` of the node's result)."""
    return check_at(message, key, values.contains, value)


@never_raises
def fieldDict(message: Any, key: Key) -> bool:
    """True when the value is a mapping (at ``key`` of the node's result)."""
    return check_at(message, key, values.is_dict)


@never_raises
def fieldEqual(message: Any, key: Key, value: Any) -> bool:
    """True when the value equals ``value`` (at ``key`` of the node's result)."""
    return check_at(message, key, values.equal, value)


@never_raises
def fieldExist(message: Any, key: Key) -> bool:
    """True when the key exists (whatever its value, even null) (at ``key`` of the node's result)."""
    return lookup(message, key) is not MISSING


@never_raises
def fieldFloat(message: Any, key: Key) -> bool:
    """True when the value is a float (at ``key`` of the node's result)."""
    return check_at(message, key, values.is_float)


@never_raises
def fieldGreater(message: Any, key: Key, value: Any) -> bool:
    """True when the value is greater than ``value`` (at ``key`` of the node's result)."""
    return check_at(message, key, values.greater, value)


@never_raises
def fieldGreaterEqual(message: Any, key: Key, value: Any) -> bool:
    """True when the value is greater than or equal to ``value`` (at ``key`` of the node's result)."""
    return check_at(message, key, values.greater_equal, value)


@never_raises
def fieldInt(message: Any, key: Key) -> bool:
    """True when the value is an integer (booleans are not integers here) (at ``key`` of the node's result)."""
    return check_at(message, key, values.is_int)


@never_raises
def fieldLenEqual(message: Any, key: Key, length: int) -> bool:
    """True when the value's length equals ``length`` (at ``key`` of the node's result)."""
    return check_at(message, key, values.length_equal, length)


@never_raises
def fieldLenGreater(message: Any, key: Key, length: int) -> bool:
    """True when the value's length is greater than ``length`` (at ``key`` of the node's result)."""
    return check_at(message, key, values.length_greater, length)


@never_raises
def fieldLenGreaterEqual(message: Any, key: Key, length: int) -> bool:
    """True when the value's length is at least ``length`` (at ``key`` of the node's result)."""
    return check_at(message, key, values.length_greater_equal, length)


@never_raises
def fieldLenLess(message: Any, key: Key, length: int) -> bool:
    """True when the value's length is less than ``length`` (at ``key`` of the node's result)."""
    return check_at(message, key, values.length_less, length)


@never_raises
def fieldLenLessEqual(message: Any, key: Key, length: int) -> bool:
    """True when the value's length is at most ``length`` (at ``key`` of the node's result)."""
    return check_at(message, key, values.length_less_equal, length)


@never_raises
def fieldLenNotEqual(message: Any, key: Key, length: int) -> bool:
    """True when the value's length differs from ``length`` (at ``key`` of the node's result)."""
    return check_at(message, key, values.length_not_equal, length)


@never_raises
def fieldLess(message: Any, key: Key, value: Any) -> bool:
    """True when the value is less than ``value`` (at ``key`` of the node's result)."""
    return check_at(message, key, values.less, value)


@never_raises
def fieldLessEqual(message: Any, key: Key, value: Any) -> bool:
    """True when the value is less than or equal to ``value`` (at ``key`` of the node's result)."""
    return check_at(message, key, values.less_equal, value)


@never_raises
def fieldList(message: Any, key: Key) -> bool:
    """True when the value is a list (at ``key`` of the node's result)."""
    return check_at(message, key, values.is_list)


@never_raises
def fieldNone(message: Any, key: Key) -> bool:
    """True when the key exists and its value is null (at ``key`` of the node's result)."""
    return check_at(message, key, values.is_none)


@never_raises
def fieldNotEqual(message: Any, key: Key, value: Any) -> bool:
    """True when the key exists and its value differs from ``value`` (at ``key`` of the node's result)."""
    return check_at(message, key, values.not_equal, value)


@never_raises
def fieldStr(message: Any, key: Key) -> bool:
    """True when the value is a string (at ``key`` of the node's result)."""
    return check_at(message, key, values.is_str)


@never_raises
def fieldUrlNetloc(message: Any, key: Key, netloc: str) -> bool:
    """True when the value is a URL whose network location is ``netloc`` (at ``key`` of the node's result)."""
    return check_at(message, key, values.url_part_equal, 'netloc', netloc)


@never_raises
def fieldUrlPath(message: Any, key: Key, path: str) -> bool:
    """True when the value is a URL whose path is ``path`` (at ``key`` of the node's result)."""
    return check_at(message, key, values.url_part_equal, 'path', path)


@never_raises
def fieldUrlScheme(message: Any, key: Key, scheme: str) -> bool:
    """True when the value is a URL whose scheme is ``scheme`` (at ``key`` of the node's result)."""
    return check_at(message, key, values.url_part_equal, 'scheme', scheme)


@never_raises
def isBool(message: Any) -> bool:
    """True when the node's result itself is a boolean."""
    return values.is_bool(message)


@never_raises
def isDict(message: Any) -> bool:
    """True when the node's result itself is a mapping."""
    return values.is_dict(message)


@never_raises
def isFloat(message: Any) -> bool:
    """True when the node's result itself is a float."""
    return values.is_float(message)


@never_raises
def isInt(message: Any) -> bool:
    """True when the node's result itself is an integer (not a boolean)."""
    return values.is_int(message)


@never_raises
def isList(message: Any) -> bool:
    """True when the node's result itself is a list."""
    return values.is_list(message)


@never_raises
def isNone(message: Any) -> bool:
    """True when the node's result itself is null."""
    return values.is_none(message)


@never_raises
def isStr(message: Any) -> bool:
    """True when the node's result itself is a string."""
    return values.is_str(message)


@never_raises
def empty(message: Any) -> bool:
    """True when the node's result is null or empty (no keys, no items, empty string)."""
    return values.is_empty(message)
