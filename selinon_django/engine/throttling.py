"""Throttling: spacing the starts of one task or flow by a minimum interval.

A task or flow with ``throttling: {seconds: 10}`` must not start more often than once every ten
seconds, however many flows want it at the same moment. The policy keeps one number per node
name, the start time most recently *reserved*, and hands out the next free slot:

- nothing reserved yet, or the last reservation is at least ``interval`` in the past: start now;
- otherwise start ``interval`` after the last reservation (with a countdown until then).

The caller stores ``start_at`` as the new ``last_reserved``. Because each reservation is based on
the previous *reservation* and not on "now", ten requests arriving together get ten slots ten
seconds apart. (Selinon 1.4 remembers "now + interval" and compares against it, so requests that
arrive after a quiet period all see an expired entry and start at once: a burst.)

The policy is pure; the runtime keeps ``last_reserved`` per node name in a database row read and
written under a row lock (``select_for_update``), so the spacing holds across worker processes
and machines, which Selinon could only promise with one dedicated dispatcher worker.
"""
from __future__ import annotations

from typing import NamedTuple

__all__ = ["ThrottleSlot", "next_slot"]


class ThrottleSlot(NamedTuple):
    """When a throttled node may start: an absolute time and the countdown from ``now``."""

    #: the time to store as the node's new ``last_reserved``
    start_at: float
    #: seconds to wait before starting (0 when it may start at once)
    countdown: float


def next_slot(last_reserved: float | None, now: float, interval: float | None) -> ThrottleSlot:
    """Reserve the next start of a throttled node.

    ``last_reserved`` is the ``start_at`` of the previous reservation for the same node name
    (``None`` when there was none), ``now`` the current time and ``interval`` the configured
    minimum spacing, all in seconds on one clock (wall clock or the executor's simulated one).
    ``None`` or a non-positive ``interval`` means no throttling.
    """
    if interval is None or interval <= 0 or last_reserved is None:
        return ThrottleSlot(start_at=now, countdown=0.0)
    start_at = max(now, last_reserved + interval)
    return ThrottleSlot(start_at=start_at, countdown=start_at - now)
