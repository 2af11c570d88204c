"""The mark that makes a custom function a predicate (see :mod:`.declared` for why it is needed)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["is_marked", "predicate"]

_MARK = "__selinon_predicate__"

F = TypeVar("F", bound=Callable[..., Any])


def predicate(fn: F) -> F:
    """Declare ``fn`` a predicate that conditions in YAML may name.

    ::

        from selinon_django.predicates import predicate

        @predicate
        def is_large(message, threshold):
            return message["size"] > threshold
    """
    setattr(fn, _MARK, True)
    return fn


def is_marked(fn: Any) -> bool:
    return getattr(fn, _MARK, False) is True
