"""Predicates over the node's result (Selinon's ``field*`` names and signatures).

Every predicate returns a bool and never raises: a missing key or a value of the wrong type is
simply ``False``, because predicates run inside the dispatcher where an exception would stall
the flow. ``key`` is one key or a list of keys for a nested lookup (``['foo', 'bar']`` reads
``message['foo']['bar']``).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from selinon_django.predicates.lookup import MISSING, Key, is_empty, is_int, lookup, never_raises, url_part

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
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(isinstance(field, bool))


@never_raises
def fieldContain(message: Any, key: Key, value: Any) -> bool:
    """True when the value contains ``value`` (``in``) (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(value in field)


@never_raises
def fieldDict(message: Any, key: Key) -> bool:
    """True when the value is a mapping (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(isinstance(field, Mapping))


@never_raises
def fieldEqual(message: Any, key: Key, value: Any) -> bool:
    """True when the value equals ``value`` (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(field == value)


@never_raises
def fieldExist(message: Any, key: Key) -> bool:
    """True when the key exists (whatever its value, even null) (at ``key`` of the node's result)."""
    field = lookup(message, key)
    return field is not MISSING


@never_raises
def fieldFloat(message: Any, key: Key) -> bool:
    """True when the value is a float (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(isinstance(field, float))


@never_raises
def fieldGreater(message: Any, key: Key, value: Any) -> bool:
    """True when the value is greater than ``value`` (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(field > value)


@never_raises
def fieldGreaterEqual(message: Any, key: Key, value: Any) -> bool:
    """True when the value is greater than or equal to ``value`` (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(field >= value)


@never_raises
def fieldInt(message: Any, key: Key) -> bool:
    """True when the value is an integer (booleans are not integers here) (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(is_int(field))


@never_raises
def fieldLenEqual(message: Any, key: Key, length: int) -> bool:
    """True when the value's length equals ``length`` (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(len(field) == length)


@never_raises
def fieldLenGreater(message: Any, key: Key, length: int) -> bool:
    """True when the value's length is greater than ``length`` (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(len(field) > length)


@never_raises
def fieldLenGreaterEqual(message: Any, key: Key, length: int) -> bool:
    """True when the value's length is at least ``length`` (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(len(field) >= length)


@never_raises
def fieldLenLess(message: Any, key: Key, length: int) -> bool:
    """True when the value's length is less than ``length`` (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(len(field) < length)


@never_raises
def fieldLenLessEqual(message: Any, key: Key, length: int) -> bool:
    """True when the value's length is at most ``length`` (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(len(field) <= length)


@never_raises
def fieldLenNotEqual(message: Any, key: Key, length: int) -> bool:
    """True when the value's length differs from ``length`` (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(len(field) != length)


@never_raises
def fieldLess(message: Any, key: Key, value: Any) -> bool:
    """True when the value is less than ``value`` (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(field < value)


@never_raises
def fieldLessEqual(message: Any, key: Key, value: Any) -> bool:
    """True when the value is less than or equal to ``value`` (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(field <= value)


@never_raises
def fieldList(message: Any, key: Key) -> bool:
    """True when the value is a list (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(isinstance(field, (list, tuple)))


@never_raises
def fieldNone(message: Any, key: Key) -> bool:
    """True when the key exists and its value is null (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(field is None)


@never_raises
def fieldNotEqual(message: Any, key: Key, value: Any) -> bool:
    """True when the key exists and its value differs from ``value`` (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(field != value)


@never_raises
def fieldStr(message: Any, key: Key) -> bool:
    """True when the value is a string (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(isinstance(field, str))


@never_raises
def fieldUrlNetloc(message: Any, key: Key, netloc: str) -> bool:
    """True when the value is a URL whose network location is ``netloc`` (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(url_part(field, 'netloc') == netloc)


@never_raises
def fieldUrlPath(message: Any, key: Key, path: str) -> bool:
    """True when the value is a URL whose path is ``path`` (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(url_part(field, 'path') == path)


@never_raises
def fieldUrlScheme(message: Any, key: Key, scheme: str) -> bool:
    """True when the value is a URL whose scheme is ``scheme`` (at ``key`` of the node's result)."""
    field = lookup(message, key)
    if field is MISSING:
        return False
    return bool(url_part(field, 'scheme') == scheme)


@never_raises
def isBool(message: Any) -> bool:
    """True when the node's result itself is a boolean."""
    return bool(isinstance(message, bool))


@never_raises
def isDict(message: Any) -> bool:
    """True when the node's result itself is a mapping."""
    return bool(isinstance(message, Mapping))


@never_raises
def isFloat(message: Any) -> bool:
    """True when the node's result itself is a float."""
    return bool(isinstance(message, float))


@never_raises
def isInt(message: Any) -> bool:
    """True when the node's result itself is an integer (not a boolean)."""
    return bool(is_int(message))


@never_raises
def isList(message: Any) -> bool:
    """True when the node's result itself is a list."""
    return bool(isinstance(message, (list, tuple)))


@never_raises
def isNone(message: Any) -> bool:
    """True when the node's result itself is null."""
    return bool(message is None)


@never_raises
def isStr(message: Any) -> bool:
    """True when the node's result itself is a string."""
    return bool(isinstance(message, str))


@never_raises
def empty(message: Any) -> bool:
    """True when the node's result is null or empty (no keys, no items, empty string)."""
    return is_empty(message)
