"""The two constant predicates (``alwaysTrue`` is the condition of an edge that has none)."""
from __future__ import annotations

__all__ = ["alwaysFalse", "alwaysTrue"]


def alwaysTrue() -> bool:
    """Always true: the default condition of an edge and of a fallback."""
    return True


def alwaysFalse() -> bool:
    """Always false: disables an edge without removing it (removing would need a migration)."""
    return False
