"""Selinon's exceptions that nothing in this app raises.

Selinon code imports them and names them in ``except`` clauses (a worker catching
``DispatcherRetry``, a client catching ``RequestError``); defining them keeps such modules
importable. They derive from :class:`~selinon_django.errors.SelinonDjangoError` like every error
of this app. Selinon's errors that *do* have a counterpart here are that counterpart (see
:mod:`selinon_django.compat.selinon_names`): ``except selinon.FatalTaskError`` catches this
app's :class:`~selinon_django.errors.FatalTaskError`.
"""
from __future__ import annotations

from typing import Any

from selinon_django.errors import SelinonDjangoError

__all__ = [
    "ConfigNotInitializedError",
    "DispatcherRetry",
    "MigrationException",
    "MigrationFlowFail",
    "MigrationFlowRetry",
    "MigrationNotNeeded",
    "RequestError",
    "UnknownError",
    "UnsupportedCeleryError",
]


class ConfigNotInitializedError(SelinonDjangoError):
    """Selinon: the configuration was used before ``Config.set_config_*`` (here it is in the database)."""


class DispatcherRetry(SelinonDjangoError):
    """Selinon: re-inspect the flow's state (here the dispatcher retries on its own)."""

    def __init__(self, keep_state: bool = True, adjust_retry_count: bool = True) -> None:
        super().__init__()
        self.keep_state = keep_state
        self.adjust_retry_count = adjust_retry_count


class MigrationException(SelinonDjangoError):
    """Selinon: the base of migration errors (here migrations are applied by the runtime)."""

    def __init__(self, *args: Any, migration_version: int | None = None,
                 latest_migration_version: int | None = None, tainting_nodes: Any = None,
                 tainted_edge: Any = None) -> None:
        super().__init__(*args)
        self.migration_version = migration_version
        self.latest_migration_version = latest_migration_version
        self.tainting_nodes = tainting_nodes
        self.tainted_edge = tainted_edge


class MigrationFlowFail(MigrationException):
    """Selinon: a tainted flow is to fail."""


class MigrationFlowRetry(MigrationException):
    """Selinon: a tainted flow is to be retried."""


class MigrationNotNeeded(SelinonDjangoError):
    """Selinon: the configuration change needs no migration."""


class RequestError(SelinonDjangoError):
    """Selinon: a request to run a flow was malformed."""


class UnknownError(SelinonDjangoError):
    """Selinon: an error it could not classify."""


class UnsupportedCeleryError(SelinonDjangoError):
    """Selinon: the Celery version or configuration is not supported."""
