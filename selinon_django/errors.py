"""Exceptions shared by every layer (pure Python: the engine and the config layer raise them)."""
from __future__ import annotations

from dataclasses import dataclass, field


class SelinonDjangoError(Exception):
    """Base class of every error this app raises on purpose."""


@dataclass
class ConfigIssue:
    """One thing wrong with a configuration: where (file and key path) and what."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file or "<configuration>"
        if self.path:
            where = f"{where}: {self.path}"
        return f"{where}: {self.message}"


@dataclass
class ConfigurationError(SelinonDjangoError):
    """The YAML configuration was refused; ``issues`` lists every problem found."""

    issues: list[ConfigIssue] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues) or "invalid configuration"


class FatalTaskError(SelinonDjangoError):
    """Raised by a task to fail at once, without the retries ``max_retry`` would allow."""


class SelectiveNoPathError(SelinonDjangoError):
    """A selective run asked for a task that no path of the flow reaches."""


class MigrationSkew(SelinonDjangoError):
    """A message carries a migration version newer than this worker knows."""


class UnknownFlowError(SelinonDjangoError):
    """A flow name that the current configuration does not define."""


class RunStateError(SelinonDjangoError):
    """The run cannot do what was asked in its current status (cancel a finished run, ...)."""
