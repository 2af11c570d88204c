"""Flow migrations kept as rows: how running flows move from one revision's graph to the next.

A row is one Selinon migration version (``N.json``): versions are deployment-wide and
sequential from 1, so a run's ``migration_version`` says which migrations it has been through.
The row also names the two revisions the migration was computed between; the runtime only moves
a run along a chain whose revisions connect to the one the run is on, so a migration computed
between two other configurations can never be applied to it by accident. Rows never change: a
migration applied to running flows is history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

from selinon_django.models.definitions import ConfigRevision
from selinon_django.models.immutable import ImmutableModel

if TYPE_CHECKING:
    from selinon_django.engine.migrations import Migration


class TaintedFlowStrategyChoice(models.TextChoices):
    IGNORE = "IGNORE", "IGNORE"
    RETRY = "RETRY", "RETRY"
    FAIL = "FAIL", "FAIL"


class FlowMigrationRecordQuerySet(models.QuerySet["FlowMigrationRecord"]):
    def latest_version(self) -> int:
        """The newest migration version (0: no migrations, as in Selinon)."""
        value = self.aggregate(latest=models.Max("version"))["latest"]
        return int(value or 0)

    def after(self, version: int) -> FlowMigrationRecordQuerySet:
        """Migrations newer than ``version``, oldest first (the chain a run at ``version`` needs)."""
        return self.filter(version__gt=version).order_by("version")


FlowMigrationRecordManager = models.Manager.from_queryset(FlowMigrationRecordQuerySet)


class FlowMigrationRecord(ImmutableModel):
    """One migration version (the content of Selinon's ``N.json``) and the revisions it links."""

    Strategy = TaintedFlowStrategyChoice

    version = models.PositiveIntegerField(unique=True, editable=False)
    #: the configuration running flows come from; None for a migration read from files whose
    #: configurations were never loaded (such a migration cannot move runs between revisions)
    from_revision = models.ForeignKey(
        ConfigRevision, null=True, blank=True, on_delete=models.PROTECT, related_name="migrations_from"
    )
    to_revision = models.ForeignKey(
        ConfigRevision, null=True, blank=True, on_delete=models.PROTECT, related_name="migrations_to"
    )
    #: content hashes of the two configurations: a migration generated from files before they
    #: were loaded finds its revisions by hash once they are
    from_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    to_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    #: Selinon's ``N.json`` content: ``{migration: {flow: ...}, tainted_flow_strategy, _meta?}``
    content = models.JSONField(editable=False)
    tainted_flow_strategy = models.CharField(
        max_length=8, choices=TaintedFlowStrategyChoice.choices, default=TaintedFlowStrategyChoice.IGNORE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: who generated it when there is no Django user (the OS user of the command)
    created_by_name = models.CharField(max_length=150, blank=True, default="")

    objects = FlowMigrationRecordManager()

    class Meta:
        ordering = ("version",)
        get_latest_by = "version"
        verbose_name = "flow migration"

    def __str__(self) -> str:
        flows = ", ".join(sorted((self.content or {}).get("migration") or {})) or "no flow"
        return f"migration {self.version} ({self.tainted_flow_strategy}: {flows})"

    @property
    def flow_names(self) -> list[str]:
        return sorted((self.content or {}).get("migration") or {})

    def migration(self) -> Migration:
        """The pure :class:`~selinon_django.engine.migrations.Migration` this row holds."""
        from selinon_django.engine.migrations import migration_from_json

        return migration_from_json(self.content)
