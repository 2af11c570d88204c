"""Predicates over the flow arguments (Selinon's ``argsField*`` names and signatures).

Every predicate returns a bool and never raises: a missing key or a value of the wrong type is
simply ``False``, because predicates run inside the dispatcher where an exception would stall
the flow. ``key`` is one key or a list of keys for a nested lookup (``['foo', 'bar']`` reads
``node_args['foo']['bar']``).

The checks themselves live in :mod:`selinon_django.predicates.values`, shared with the other
family; each function here only says that the value is read from the flow arguments.
"""
from __future__ import annotations

from typing import Any

from selinon_django.predicates import values
from selinon_django.predicates.lookup import MISSING, Key, check_at, lookup, never_raises

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
    return check_at(node_args, key, values.is_bool)


@never_raises
def argsFieldContain(node_args: Any, key: Key, value: Any) -> bool:
    """True when the value contains ``value`` (``in``) (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.contains, value)


@never_raises
def argsFieldDict(node_args: Any, key: Key) -> bool:
    """True when the value is a mapping (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.is_dict)


@never_raises
def argsFieldEqual(node_args: Any, key: Key, value: Any) -> bool:
    """True when the value equals ``value`` (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.equal, value)


@never_raises
def argsFieldExist(node_args: Any, key: Key) -> bool:
    """True when the key exists (whatever its value, even null) (at ``key`` of the flow arguments)."""
    return lookup(node_args, key) is not MISSING


@never_raises
def argsFieldFloat(node_args: Any, key: Key) -> bool:
    """True when the value is a float (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.is_float)


@never_raises
def argsFieldGreater(node_args: Any, key: Key, value: Any) -> bool:
    """True when the value is greater than ``value`` (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.greater, value)


@never_raises
def argsFieldGreaterEqual(node_args: Any, key: Key, value: Any) -> bool:
    """True when the value is greater than or equal to ``value`` (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.greater_equal, value)


@never_raises
def argsFieldInt(node_args: Any, key: Key) -> bool:
    """True when the value is an integer (booleans are not integers here) (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.is_int)


@never_raises
def argsFieldLenEqual(node_args: Any, key: Key, length: int) -> bool:
    """True when the value's length equals ``length`` (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.length_equal, length)


@never_raises
def argsFieldLenGreater(node_args: Any, key: Key, length: int) -> bool:
    """True when the value's length is greater than ``length`` (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.length_greater, length)


@never_raises
def argsFieldLenGreaterEqual(node_args: Any, key: Key, length: int) -> bool:
    """True when the value's length is at least ``length`` (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.length_greater_equal, length)


@never_raises
def argsFieldLenLess(node_args: Any, key: Key, length: int) -> bool:
    """True when the value's length is less than ``length`` (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.length_less, length)


@never_raises
def argsFieldLenLessEqual(node_args: Any, key: Key, length: int) -> bool:
    """True when the value's length is at most ``length`` (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.length_less_equal, length)


@never_raises
def argsFieldLenNotEqual(node_args: Any, key: Key, length: int) -> bool:
    """True when the value's length differs from ``length`` (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.length_not_equal, length)


@never_raises
def argsFieldLess(node_args: Any, key: Key, value: Any) -> bool:
    """True when the value is less than ``value`` (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.less, value)


@never_raises
def argsFieldLessEqual(node_args: Any, key: Key, value: Any) -> bool:
    """True when the value is less than or equal to ``value`` (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.less_equal, value)


@never_raises
def argsFieldList(node_args: Any, key: Key) -> bool:
    """True when the value is a list (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.is_list)


@never_raises
def argsFieldNone(node_args: Any, key: Key) -> bool:
    """True when the key exists and its value is null (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.is_none)


@never_raises
def argsFieldNotEqual(node_args: Any, key: Key, value: Any) -> bool:
    """True when the key exists and its value differs from ``value`` (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.not_equal, value)


@never_raises
def argsFieldStr(node_args: Any, key: Key) -> bool:
    """True when the value is a string (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.is_str)


@never_raises
def argsFieldUrlNetloc(node_args: Any, key: Key, netloc: str) -> bool:
    """True when the value is a URL whose network location is ``netloc`` (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.url_part_equal, 'netloc', netloc)


@never_raises
def argsFieldUrlPath(node_args: Any, key: Key, path: str) -> bool:
    """True when the value is a URL whose path is ``path`` (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.url_part_equal, 'path', path)


@never_raises
def argsFieldUrlScheme(node_args: Any, key: Key, scheme: str) -> bool:
    """True when the value is a URL whose scheme is ``scheme`` (at ``key`` of the flow arguments)."""
    return check_at(node_args, key, values.url_part_equal, 'scheme', scheme)


@never_raises
def argsIsBool(node_args: Any) -> bool:
    """True when the flow arguments itself is a boolean."""
    return values.is_bool(node_args)


@never_raises
def argsIsDict(node_args: Any) -> bool:
    """True when the flow arguments itself is a mapping."""
    return values.is_dict(node_args)


@never_raises
def argsIsFloat(node_args: Any) -> bool:
    """True when the flow arguments itself is a float."""
    return values.is_float(node_args)


@never_raises
def argsIsInt(node_args: Any) -> bool:
    """True when the flow arguments itself is an integer (not a boolean)."""
    return values.is_int(node_args)


@never_raises
def argsIsList(node_args: Any) -> bool:
    """True when the flow arguments itself is a list."""
    return values.is_list(node_args)


@never_raises
def argsIsNone(node_args: Any) -> bool:
    """True when the flow arguments itself is null."""
    return values.is_none(node_args)


@never_raises
def argsIsStr(node_args: Any) -> bool:
    """True when the flow arguments itself is a string."""
    return values.is_str(node_args)


@never_raises
def argsEmpty(node_args: Any) -> bool:
    """True when the flow arguments is null or empty (no keys, no items, empty string)."""
    return values.is_empty(node_args)
