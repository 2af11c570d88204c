"""What ``run_flow`` returns: the run id, which also answers like Selinon's ``AsyncResult``.

Selinon's ``run_flow`` returned Celery's ``AsyncResult`` of the flow's dispatcher, so Selinon code
writes ``run_flow(...).id`` or ``run_flow(...).get()``. This app's callers (the REST API, the
commands, triggers, tests) keep the run id as a string. :class:`FlowHandle` is both: a ``str``
holding the run id, stored, compared and serialised exactly as before, with the read-only part
of ``AsyncResult``'s interface, which reads the outcome that the runtime writes to Celery's result
backend under the run id when the run ends (see :mod:`selinon_django.runtime.results`).
"""
from __future__ import annotations

from typing import Any

from celery.result import AsyncResult

from selinon_django.runtime.celery_app import get_celery_app

__all__ = ["FlowHandle"]

#: ``AsyncResult`` attributes a handle hands on (reading the outcome; ``revoke`` is not among
#: them: the run id names no Celery task to revoke, ``cancel_flow`` cancels a run)
_DELEGATED = frozenset({
    "date_done", "failed", "forget", "info", "maybe_throw", "ready", "result", "state", "status",
    "successful", "traceback", "wait",
})


class FlowHandle(str):
    """A run id that is also a handle on the run's outcome; see the module docstring."""

    __slots__ = ()

    @property
    def id(self) -> str:
        """The run id (Selinon's dispatcher id), a plain ``str``."""
        return str(self)

    task_id = id

    def async_result(self) -> AsyncResult:
        """Celery's ``AsyncResult`` of the run id, on the project's Celery app."""
        return AsyncResult(str(self), app=get_celery_app())

    def get(self, timeout: float | None = None, propagate: bool = True, interval: float = 0.5, **options: Any) -> Any:
        """Wait for the run to end and return its result (the flow's final state), as
        ``AsyncResult.get`` does; a failed run raises ``FlowFailedError`` when ``propagate``."""
        return self.async_result().get(timeout=timeout, propagate=propagate, interval=interval, **options)

    def __getattr__(self, name: str) -> Any:
        if name in _DELEGATED:
            return getattr(self.async_result(), name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __reduce__(self) -> tuple[type[str], tuple[str]]:
        # pickled (a Celery argument, a cache) it is the plain run id
        return (str, (str(self),))
