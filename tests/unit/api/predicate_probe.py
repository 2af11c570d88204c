"""A custom predicates module for the upload tests: one undeclared function, two declared ones."""
from __future__ import annotations

from selinon_django.predicates import predicate

CALLS: list[str] = []

__predicates__ = ["listed"]


def sneaky() -> bool:
    """Not a predicate: a condition naming it must never call it."""
    CALLS.append("sneaky")
    return True


@predicate
def declared() -> bool:
    CALLS.append("declared")
    return False


def listed() -> bool:
    CALLS.append("listed")
    return True
