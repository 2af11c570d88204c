"""``TriggerTask`` and the ``TaskContext`` its ``_run`` receives.

A trigger task is not a Celery task class: the runtime's one registered Celery task
(:mod:`.celery_tasks`) builds the class named in ``run`` for each attempt, so a task class
needs no registration and can be named in YAML like a Selinon task. Retrying follows the
triggers library rather than Celery: ``raise self.retry(exc=..., cooldown=N,
trigger_kwargs=...)`` (it returns the exception to raise), with replacement kwargs for the next
attempt, and :class:`MaxRetriesExceeded` once ``max_retries`` retries were used.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from selinon_django.errors import SelinonDjangoError
from selinon_django.triggers.filtering import filter_kwargs

if TYPE_CHECKING:
    from selinon_django.triggers.manager import TriggerManager

__all__ = ["MaxRetriesExceeded", "RetryRequested", "TaskContext", "TriggerTask"]

task_logger = logging.getLogger("selinon_django.triggers.tasks")


class MaxRetriesExceeded(SelinonDjangoError):
    """A trigger task asked for a retry after using its ``max_retries``; ``__cause__`` is why."""


class RetryRequested(SelinonDjangoError):
    """Returned by :meth:`TriggerTask.retry`, to be raised: run the task again later."""

    def __init__(
        self, exc: BaseException | None = None, cooldown: float = 0.0,
        trigger_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"retry in {cooldown} s" + (f" after {type(exc).__name__}: {exc}" if exc else ""))
        self.exc = exc
        self.cooldown = cooldown
        self.trigger_kwargs = trigger_kwargs


class SessionLogger(logging.LoggerAdapter[logging.Logger]):
    """Prefixes every line with the session and task, and adds both as ``extra`` fields."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = dict(self.extra or {})
        kwargs["extra"] = {**extra, **(kwargs.get("extra") or {})}
        return f"[session={extra.get('trigger_session')} task={extra.get('trigger_task')}] {msg}", kwargs


@dataclass
class TaskContext:
    """What ``_run`` gets: the manager, the kwargs of the triggers that caused the run, a logger."""

    manager: TriggerManager
    #: ``{trigger name: kwargs}`` of each trigger of ``after`` (or the retry's replacement)
    trigger_kwargs: dict[str, dict[str, Any]]
    task_name: str
    instance_id: str
    #: 1 for the first attempt
    attempt: int = 1
    _logger: SessionLogger | None = field(default=None, repr=False)

    @property
    def session(self) -> str:
        return self.manager.session

    def filter_kwargs(self, description: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        """Validate and convert the trigger kwargs (see :mod:`selinon_django.triggers.filtering`).

        Raises :class:`~selinon_django.triggers.filtering.KwargsRefused` naming the trigger and
        field of every refused value.
        """
        return filter_kwargs(self.task_name, self.trigger_kwargs, description)

    def get_logger_context(self) -> SessionLogger:
        """A logger whose lines carry the session and the task name."""
        if self._logger is None:
            self._logger = SessionLogger(
                task_logger,
                {"trigger_session": self.session, "trigger_task": self.task_name, "trigger_instance": self.instance_id},
            )
        return self._logger

    @property
    def logger(self) -> SessionLogger:
        return self.get_logger_context()


class TriggerTask:
    """Subclass it and implement :meth:`_run`; return a mapping to pass on to the cascade."""

    #: retries allowed after the first attempt (YAML/Python ``max_retries`` overrides it)
    max_retries: int = 3
    #: seconds before a retry when ``retry()`` gets no ``cooldown``
    default_cooldown: float = 0.0

    def __init__(self, *, name: str, attempt: int = 1, max_retries: int | None = None) -> None:
        self.name = name
        self.attempt = attempt
        if max_retries is not None:
            self.max_retries = max_retries

    @property
    def retries(self) -> int:
        """Retries already used before this attempt."""
        return self.attempt - 1

    def _run(self, context: TaskContext) -> Mapping[str, Any] | None:
        raise NotImplementedError(f"{type(self).__name__} must implement _run(context)")

    def run(self, context: TaskContext) -> Mapping[str, Any] | None:
        """The runtime calls this; override :meth:`_run`."""
        return self._run(context)

    def retry(
        self,
        exc: BaseException | None = None,
        cooldown: float | None = None,
        trigger_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> RetryRequested:
        """The exception to raise for another attempt; raises MaxRetriesExceeded when none is left.

        ``trigger_kwargs`` replaces the kwargs of the next attempts (``{trigger: kwargs}``, the
        shape of ``context.trigger_kwargs``); the triggers' rows are kept as they were fired.
        """
        if self.retries >= self.max_retries:
            raise MaxRetriesExceeded(
                f"{self.name}: max_retries={self.max_retries} exceeded after {self.attempt} attempt(s)"
                + (f"; last error {type(exc).__name__}: {exc}" if exc is not None else "")
            ) from exc
        if trigger_kwargs is not None and not isinstance(trigger_kwargs, Mapping):
            raise TypeError("retry(trigger_kwargs=...) takes {trigger name: kwargs}")
        return RetryRequested(
            exc, self.default_cooldown if cooldown is None else float(cooldown),
            None if trigger_kwargs is None else {k: dict(v or {}) for k, v in trigger_kwargs.items()},
        )
