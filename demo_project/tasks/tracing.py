"""A trace function ``(event, msg_dict)`` configured in ``global.trace``.

It keeps the most recent events in memory so the demo (and its tests) can show what the
dispatcher did without a log file. It never raises: a broken trace must not break a flow.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)

_events: deque[tuple[str, dict[str, Any]]] = deque(maxlen=1000)
_lock = threading.Lock()


def _event_name(event: Any) -> str:
    if isinstance(event, int):
        try:
            from selinon_django.trace.events import Trace

            return Trace.event2str(event)
        except Exception:  # the trace module is optional for this helper
            return str(event)
    return str(getattr(event, "name", event))


def record_event(event: Any, msg_dict: Any) -> None:
    """Remember one event (name and details)."""
    try:
        details = dict(msg_dict) if isinstance(msg_dict, Mapping) else {"details": msg_dict}
        name = _event_name(event)
        with _lock:
            _events.append((name, details))
        logger.debug("trace %s %s", name, details)
    except Exception:  # pragma: no cover - defensive: tracing must never fail a flow
        logger.exception("demo trace function failed")


def recorded_events() -> list[tuple[str, dict[str, Any]]]:
    """A copy of the remembered events, oldest first."""
    with _lock:
        return list(_events)


def clear() -> None:
    with _lock:
        _events.clear()
