"""Greedy matching of failed nodes against a flow's ``failures`` entries.

Selinon's rule (REFERENCE-BEHAVIOUR "Failures and fallbacks"): the names of failed nodes are
sorted, combinations are tried from the largest size down to one, in lexical order within a
size, and the first combination that equals the ``nodes`` set of some ``failures`` entry wins.
Greedy matching makes the choice independent of the order in which nodes failed: if Task1 and
Task2 both failed, an entry for both wins over an entry for Task1 alone, whatever failed first.

This module only *orders the candidates*; the dispatcher evaluates their conditions (a
candidate whose every condition is false does not apply, and the next candidate is tried),
starts the fallbacks and consumes the failed instances (:func:`consume`).
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence

from selinon_django.config.model import Failure

__all__ = ["applications", "candidates", "consume"]


def candidates(
    failed_nodes: Mapping[str, Sequence[str]], failures: Sequence[Failure]
) -> Iterator[tuple[tuple[str, ...], tuple[Failure, ...]]]:
    """Yield ``(combination, entries)`` in greedy order.

    ``combination`` is a sorted tuple of failed node names; ``entries`` are the ``failures``
    entries whose ``nodes`` set is exactly that combination, in YAML order (normally one; when a
    configuration repeats a node set, each entry keeps its own condition and fallbacks).
    """
    names = sorted(name for name, ids in failed_nodes.items() if ids)
    for size in range(len(names), 0, -1):
        for combination in itertools.combinations(names, size):
            wanted = frozenset(combination)
            entries = tuple(failure for failure in failures if failure.nodes == wanted)
            if entries:
                yield combination, entries


def applications(failed_nodes: Mapping[str, Sequence[str]], combination: Sequence[str]) -> int:
    """How many times a matched entry applies: once per failed instance every node still has."""
    return min(len(failed_nodes.get(name, ())) for name in combination)


def consume(failed_nodes: dict[str, list[str]], combination: Sequence[str]) -> dict[str, str]:
    """Remove the oldest failed instance of each node of ``combination`` (in place).

    Returns the consumed ``{name: id}`` (for traces). Names left with no instance are dropped,
    so the state keeps Selinon's shape (no empty lists).
    """
    consumed: dict[str, str] = {}
    for name in combination:
        ids = failed_nodes[name]
        consumed[name] = ids.pop(0)
        if not ids:
            del failed_nodes[name]
    return consumed
