"""Sampling strategies: when the dispatcher should look at a flow again.

``selinon.strategies`` in YAML resolves here. A strategy is called after every dispatcher step
as ``strategy(status, **args)`` (``args`` from the flow's ``sampling`` section) and answers the
number of seconds until the next look, or ``None`` when nothing is active any more, which lets
the flow end. ``status`` is a :class:`SamplingStatus`:

- ``previous_retry``: what the strategy answered last time (``None`` on the first step);
- ``active_nodes``: nodes scheduled or running (started ones included);
- ``failed_nodes``: failed nodes not yet handled by a fallback;
- ``new_started_nodes``: nodes started by this step (already in ``active_nodes``);
- ``new_fallback_nodes``: fallback nodes started by this step (already in ``active_nodes``);
- ``finished_nodes``: nodes that succeeded so far.

The strategies only *read* collections (``bool(...)``), so lists, dicts or sets all work.

How this differs from Selinon 1.4 (deliberately)
-------------------------------------------------

*The strategies do what Selinon's documentation says, not what its code does.* Selinon's
documentation says the ``*_increase`` and ``*_adapt`` strategies back off while nothing new is
started and come back to the short interval as soon as the flow makes progress. Its code does
the opposite: it grows the interval every time a node *is* started. With the default
(``biexponential_increase``, 2 s to 120 s) a chain of five instant tasks then waits
2 + 4 + 8 + 16 + 32 = 62 s. Here a step that starts a node (or a fallback) resets the interval
(``*_increase``) or shortens it (``*_adapt``), so a flow that keeps making progress keeps being
looked at every ``start_retry`` seconds, and only a flow that is waiting for long tasks backs
off.

*The strategy is a safety net, not the clock of the flow.* The runtime wakes a flow's
dispatcher as soon as one of its nodes finishes, so progress never waits for the sampling
interval; the strategy only bounds how long a flow goes unchecked if a wake-up is lost, and
still decides that a flow with nothing active can end (``None``).
"""
from __future__ import annotations

import random as _random
from collections.abc import Callable, Collection
from typing import Any, TypedDict

__all__ = [
    "STRATEGIES",
    "SamplingStatus",
    "biexponential_adapt",
    "biexponential_decrease",
    "biexponential_increase",
    "constant",
    "linear_adapt",
    "linear_increase",
    "made_progress",
    "random",
]


class SamplingStatus(TypedDict):
    """What a strategy is told about the flow after a dispatcher step."""

    previous_retry: float | None
    active_nodes: Collection[Any]
    failed_nodes: Collection[Any]
    new_started_nodes: Collection[Any]
    new_fallback_nodes: Collection[Any]
    finished_nodes: Collection[Any]


# One generator for the module, so tests can seed it and the dispatcher never touches the
# global ``random`` state that user tasks may rely on.
_rng = _random.Random()


def made_progress(status: SamplingStatus) -> bool:
    """Whether the step that just ran started anything (a node or a fallback)."""
    return bool(status.get("new_started_nodes")) or bool(status.get("new_fallback_nodes"))


def _nothing_active(status: SamplingStatus) -> bool:
    return not status.get("active_nodes")


def _previous(status: SamplingStatus) -> float | None:
    return status.get("previous_retry")


def biexponential_increase(status: SamplingStatus, start_retry: float, max_retry: float) -> float | None:
    """Double the interval while nothing starts (up to ``max_retry``); back to ``start_retry`` on progress.

    The default strategy (``start_retry=2, max_retry=120``): a busy flow is looked at often, a
    flow waiting for a long task backs off exponentially.
    """
    if _nothing_active(status):
        return None
    previous = _previous(status)
    if previous is None or made_progress(status):
        return start_retry
    return min(previous * 2, max_retry)


def biexponential_decrease(status: SamplingStatus, start_retry: float, stop_retry: float) -> float | None:
    """Halve the interval while nothing starts (down to ``stop_retry``); ``stop_retry`` at once on progress.

    For flows that start slowly and then speed up: the first look is late, later looks get
    closer together, and progress jumps straight to the shortest interval.
    """
    if _nothing_active(status):
        return None
    previous = _previous(status)
    if previous is None:
        return start_retry
    if made_progress(status):
        return stop_retry
    return max(previous / 2, stop_retry)


def biexponential_adapt(status: SamplingStatus, start_retry: float, max_retry: float) -> float | None:
    """Double the interval while nothing starts (up to ``max_retry``); halve it on progress (down to ``start_retry``).

    Unlike :func:`biexponential_increase` one busy step does not forget a long quiet period, so
    a flow alternating short and long tasks settles in between.
    """
    if _nothing_active(status):
        return None
    previous = _previous(status)
    if previous is None:
        return start_retry
    if made_progress(status):
        return max(previous / 2, start_retry)
    return min(previous * 2, max_retry)


def linear_increase(status: SamplingStatus, start_retry: float, max_retry: float, step: float) -> float | None:
    """Add ``step`` while nothing starts (up to ``max_retry``); back to ``start_retry`` on progress."""
    if _nothing_active(status):
        return None
    previous = _previous(status)
    if previous is None or made_progress(status):
        return start_retry
    return min(previous + step, max_retry)


def linear_adapt(status: SamplingStatus, start_retry: float, max_retry: float, step: float) -> float | None:
    """Add ``step`` while nothing starts (up to ``max_retry``); subtract it on progress (down to ``start_retry``)."""
    if _nothing_active(status):
        return None
    previous = _previous(status)
    if previous is None:
        return start_retry
    if made_progress(status):
        return max(previous - step, start_retry)
    return min(previous + step, max_retry)


def random(status: SamplingStatus, start_retry: float, max_retry: float) -> float | None:
    """A uniformly random interval between ``start_retry`` and ``max_retry``.

    Spreads the looks of many identical flows started together, so their dispatchers do not
    all hit the workers at the same moment.
    """
    if _nothing_active(status):
        return None
    low, high = sorted((start_retry, max_retry))
    if isinstance(low, int) and isinstance(high, int):
        return _rng.randint(low, high)
    return _rng.uniform(low, high)


def constant(status: SamplingStatus, retry: float) -> float | None:
    """Always ``retry`` seconds."""
    if _nothing_active(status):
        return None
    return retry


#: The built-in strategies by their YAML names.
STRATEGIES: dict[str, Callable[..., float | None]] = {
    "biexponential_increase": biexponential_increase,
    "biexponential_decrease": biexponential_decrease,
    "biexponential_adapt": biexponential_adapt,
    "linear_increase": linear_increase,
    "linear_adapt": linear_adapt,
    "random": random,
    "constant": constant,
}
