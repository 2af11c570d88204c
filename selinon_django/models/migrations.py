"""Flow migrations kept as rows: how running flows move from one revision's graph to the next.

A row is one Selinon migration version (``N.json``): versions are deployment-wide and
sequential from 1, so a run's ``migration_version`` says which migrations it has been through.
The row also names the two revisions the migration was computed between; the runtime only moves
a run along a chain whose revisions connect to the one the run is on, so a migration computed
between two other configurations can never be applied to it by accident. Rows never change: a
migration applied to running flows is history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import models

from selinon_django.engine.migration_plan import RevisionRef, RevisionsByHash, StoredMigration, hashes_to_link
from selinon_django.engine.migrations import Migration, migration_from_json
from selinon_django.models.definitions import ConfigRevision
from selinon_django.models.immutable import ImmutableModel

#: the columns of a migration row and its two revisions that planning reads
_STORED_FIELDS = (
    "version", "content", "from_hash", "to_hash", "created_at",
    "from_revision_id", "from_revision__number", "from_revision__content_hash", "from_revision__created_at",
    "to_revision_id", "to_revision__number", "to_revision__content_hash", "to_revision__created_at",
)


def revision_ref(revision: ConfigRevision) -> RevisionRef:
    """A revision as :mod:`~selinon_django.engine.migration_plan` sees it."""
    return RevisionRef(revision.pk, revision.number, revision.content_hash, revision.created_at)


def revisions_by_hash(hashes: Iterable[str]) -> RevisionsByHash:
    """The stored revisions holding ``hashes`` (one query; none for no hashes)."""
    wanted = {content_hash for content_hash in hashes if content_hash}
    if not wanted:
        return RevisionsByHash()
    rows = ConfigRevision.objects.filter(content_hash__in=wanted).values_list("id", "number", "content_hash",
                                                                               "created_at")
    return RevisionsByHash(RevisionRef(*row) for row in rows)


def link_by_hash(migrations: Sequence[StoredMigration]) -> list[StoredMigration]:
    """``migrations`` with the revisions they name only by content hash filled in (one query)."""
    revisions = revisions_by_hash(hashes_to_link(migrations))
    return [migration.link(revisions) for migration in migrations]


def _side(row: dict[str, Any], side: str) -> RevisionRef | None:
    if row[f"{side}_revision_id"] is None:
        return None
    return RevisionRef(row[f"{side}_revision_id"], row[f"{side}_revision__number"],
                       row[f"{side}_revision__content_hash"], row[f"{side}_revision__created_at"])


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

    def stored(self) -> list[StoredMigration]:
        """These rows as planning reads them, in version order, in one query (not yet linked by
        hash: :func:`link_by_hash` does that when they are used, as revisions may load later)."""
        return [
            StoredMigration(
                version=row["version"],
                migration=migration_from_json(row["content"]),
                from_revision=_side(row, "from"),
                to_revision=_side(row, "to"),
                from_hash=row["from_hash"],
                to_hash=row["to_hash"],
                created_at=row["created_at"],
            )
            for row in self.order_by("version").values(*_STORED_FIELDS)
        ]


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
        return migration_from_json(self.content)

    def stored(self) -> StoredMigration:
        """This row as planning reads it (its revisions loaded with it: ``select_related``)."""
        return StoredMigration(
            version=self.version,
            migration=self.migration(),
            from_revision=revision_ref(self.from_revision) if self.from_revision is not None else None,
            to_revision=revision_ref(self.to_revision) if self.to_revision is not None else None,
            from_hash=self.from_hash,
            to_hash=self.to_hash,
            created_at=self.created_at,
        )
