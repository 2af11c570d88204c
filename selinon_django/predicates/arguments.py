"""Predicates over the flow arguments (Selinon's ``argsField*`` names and signatures).

Every predicate returns a bool and never raises: a missing key or a value of the wrong type is
simply ``False``, because predicates run inside the dispatcher where an exception would stall
the flow. ``key`` is one key or a list of keys for a nested lookup (``['foo', 'bar']`` reads
``node_args['foo']['bar']``).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from selinon_django.predicates.lookup import MISSING, Key, is_empty, is_int, lookup, never_raises, url_part

__all__ = [
    "argsEmpty",
    "argsFieldBool",
    "argsFieldContain",
    "argsFieldDict",
    "argsFieldEqual",
    "argsFieldExist",
    "argsFieldFloat",
    "argsFieldGreater",
    "argsFieldGreaterEqual",
    "argsFieldInt",
    "argsFieldLenEqual",
    "argsFieldLenGreater",
    "argsFieldLenGreaterEqual",
    "argsFieldLenLess",
    "argsFieldLenLessEqual",
    "argsFieldLenNotEqual",
    "argsFieldLess",
    "argsFieldLessEqual",
    "argsFieldList",
    "argsFieldNone",
    "argsFieldNotEqual",
    "argsFieldStr",
    "argsFieldUrlNetloc",
    "argsFieldUrlPath",
    "argsFieldUrlScheme",
    "argsIsBool",
    "argsIsDict",
    "argsIsFloat",
    "argsIsInt",
    "argsIsList",
    "argsIsNone",
    "argsIsStr",
]


@never_raises
def argsFieldBool(node_args: Any, key: Key) -> bool:
    """True when the value is a boolean (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(isinstance(field, bool))


@never_raises
def argsFieldContain(node_args: Any, key: Key, value: Any) -> bool:
    """True when the value contains ``value`` (``in``) (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(value in field)


@never_raises
def argsFieldDict(node_args: Any, key: Key) -> bool:
    """True when the value is a mapping (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(isinstance(field, Mapping))


@never_raises
def argsFieldEqual(node_args: Any, key: Key, value: Any) -> bool:
    """True when the value equals ``value`` (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(field == value)


@never_raises
def argsFieldExist(node_args: Any, key: Key) -> bool:
    """True when the key exists (whatever its value, even null) (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    return field is not MISSING


@never_raises
def argsFieldFloat(node_args: Any, key: Key) -> bool:
    """True when the value is a float (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(isinstance(field, float))


@never_raises
def argsFieldGreater(node_args: Any, key: Key, value: Any) -> bool:
    """True when the value is greater than ``value`` (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(field > value)


@never_raises
def argsFieldGreaterEqual(node_args: Any, key: Key, value: Any) -> bool:
    """True when the value is greater than or equal to ``value`` (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(field >= value)


@never_raises
def argsFieldInt(node_args: Any, key: Key) -> bool:
    """True when the value is an integer (booleans are not integers here) (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(is_int(field))


@never_raises
def argsFieldLenEqual(node_args: Any, key: Key, length: int) -> bool:
    """True when the value's length equals ``length`` (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(len(field) == length)


@never_raises
def argsFieldLenGreater(node_args: Any, key: Key, length: int) -> bool:
    """True when the value's length is greater than ``length`` (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(len(field) > length)


@never_raises
def argsFieldLenGreaterEqual(node_args: Any, key: Key, length: int) -> bool:
    """True when the value's length is at least ``length`` (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(len(field) >= length)


@never_raises
def argsFieldLenLess(node_args: Any, key: Key, length: int) -> bool:
    """True when the value's length is less than ``length`` (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(len(field) < length)


@never_raises
def argsFieldLenLessEqual(node_args: Any, key: Key, length: int) -> bool:
    """True when the value's length is at most ``length`` (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(len(field) <= length)


@never_raises
def argsFieldLenNotEqual(node_args: Any, key: Key, length: int) -> bool:
    """True when the value's length differs from ``length`` (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(len(field) != length)


@never_raises
def argsFieldLess(node_args: Any, key: Key, value: Any) -> bool:
    """True when the value is less than ``value`` (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(field < value)


@never_raises
def argsFieldLessEqual(node_args: Any, key: Key, value: Any) -> bool:
    """True when the value is less than or equal to ``value`` (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(field <= value)


@never_raises
def argsFieldList(node_args: Any, key: Key) -> bool:
    """True when the value is a list (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(isinstance(field, (list, tuple)))


@never_raises
def argsFieldNone(node_args: Any, key: Key) -> bool:
    """True when the key exists and its value is null (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(field is None)


@never_raises
def argsFieldNotEqual(node_args: Any, key: Key, value: Any) -> bool:
    """True when the key exists and its value differs from ``value`` (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(field != value)


@never_raises
def argsFieldStr(node_args: Any, key: Key) -> bool:
    """True when the value is a string (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(isinstance(field, str))


@never_raises
def argsFieldUrlNetloc(node_args: Any, key: Key, netloc: str) -> bool:
    """True when the value is a URL whose network location is ``netloc`` (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(url_part(field, 'netloc') == netloc)


@never_raises
def argsFieldUrlPath(node_args: Any, key: Key, path: str) -> bool:
    """True when the value is a URL whose path is ``path`` (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(url_part(field, 'path') == path)


@never_raises
def argsFieldUrlScheme(node_args: Any, key: Key, scheme: str) -> bool:
    """True when the value is a URL whose scheme is ``scheme`` (at ``key`` of the flow arguments)."""
    field = lookup(node_args, key)
    if field is MISSING:
        return False
    return bool(url_part(field, 'scheme') == scheme)


@never_raises
def argsIsBool(node_args: Any) -> bool:
    """True when the flow arguments itself is a boolean."""
    return bool(isinstance(node_args, bool))


@never_raises
def argsIsDict(node_args: Any) -> bool:
    """True when the flow arguments itself is a mapping."""
    return bool(isinstance(node_args, Mapping))


@never_raises
def argsIsFloat(node_args: Any) -> bool:
    """True when the flow arguments itself is a float."""
    return bool(isinstance(node_args, float))


@never_raises
def argsIsInt(node_args: Any) -> bool:
    """True when the flow arguments itself is an integer (not a boolean)."""
    return bool(is_int(node_args))


@never_raises
def argsIsList(node_args: Any) -> bool:
    """True when the flow arguments itself is a list."""
    return bool(isinstance(node_args, (list, tuple)))


@never_raises
def argsIsNone(node_args: Any) -> bool:
    """True when the flow arguments itself is null."""
    return bool(node_args is None)


@never_raises
def argsIsStr(node_args: Any) -> bool:
    """True when the flow arguments itself is a string."""
    return bool(isinstance(node_args, str))


@never_raises
def argsEmpty(node_args: Any) -> bool:
    """True when the flow arguments is null or empty (no keys, no items, empty string)."""
    return is_empty(node_args)
