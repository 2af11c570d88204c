"""Per-task ``rate_limit`` (Celery's ``"10/m"``, ``"100/h"``, ``"5/s"`` or a number per second).

Celery enforces a rate limit per worker and per Celery task type; every Selinon task here runs
through one Celery task, so Celery's own limit cannot tell them apart. The dispatcher instead
spaces the *publication* of a rate-limited task: ``"10/m"`` means one start every 6 seconds,
reserved in a ``ThrottleSlot`` row (kind ``"rate"``) under a row lock, so the limit holds across
all workers and machines (stricter than Celery's per-worker token bucket: no bursts).
"""
from __future__ import annotations

import re
import time

from selinon_django.engine.throttling import next_slot
from selinon_django.models.outbox import ThrottleSlot

__all__ = ["rate_limit_interval", "rate_limited_countdown"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_PATTERN = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(?:/\s*([smh]))?\s*$")

#: ThrottleSlot.kind of rate limits (apart from ``throttling``, which uses "task"/"flow")
RATE_KIND = "rate"


def rate_limit_interval(rate_limit: str | float | int | None) -> float | None:
    """Seconds between two starts for a Celery rate limit; None for no limit (None, 0, bad text)."""
    if rate_limit is None:
        return None
    match = _PATTERN.match(str(rate_limit))
    if match is None:
        return None
    count = float(match.group(1))
    if count <= 0:
        return None
    return _UNITS[match.group(2) or "s"] / count


def rate_limited_countdown(
    task_name: str, rate_limit: str | float | int | None, countdown: float | None
) -> float | None:
    """The countdown to publish a task with: its own, delayed to the next free rate-limit slot.

    Must run inside the dispatcher step's transaction (the slot row stays locked until commit).
    """
    interval = rate_limit_interval(rate_limit)
    if interval is None:
        return countdown
    now = time.time()
    slot, _ = ThrottleSlot.objects.select_for_update().get_or_create(kind=RATE_KIND, name=task_name)
    reserved = next_slot(slot.last_reserved or None, now + (countdown or 0.0), interval)
    slot.last_reserved = reserved.start_at
    slot.save(update_fields=["last_reserved"])
    total = reserved.start_at - now
    return total if total > 0 else countdown
