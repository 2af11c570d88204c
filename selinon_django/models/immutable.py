"""A base for rows that must never change after they are written.

A configuration revision is evidence: runs are pinned to it and the admin shows what ran. If a
row could be edited after the fact, a run's history would silently lie, so ``save()`` on an
existing row raises instead of writing.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from selinon_django.errors import SelinonDjangoError


class ImmutableRowError(SelinonDjangoError):
    """Someone tried to change a row of an immutable model (a configuration revision)."""


class ImmutableModel(models.Model):
    """Rows are inserted once; changing them raises :class:`ImmutableRowError`."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableRowError(
                f"{type(self).__name__} rows are immutable: load a new configuration revision instead"
            )
        super().save(*args, **kwargs)
