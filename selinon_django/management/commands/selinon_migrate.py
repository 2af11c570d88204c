"""``manage.py selinon_migrate``: compute the migration between two configurations and keep it.

The migration is stored as a :class:`~selinon_django.models.FlowMigrationRecord` row (what the
workers apply) and written as Selinon's ``N.json`` in the migration directory, so a directory
from a Selinon deployment can be continued (its files are read: their versions continue the
numbering and are stored as rows) and the files written here can be read by other tools.
"""

from __future__ import annotations

import datetime
import getpass
import os
import platform
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from selinon_django.config import content_hash
from selinon_django.config.model import SourceFile, SystemConfig
from selinon_django.engine.migration_plan import generate_migration
from selinon_django.engine.migrations import (
    Migration,
    TaintedFlowStrategy,
    migration_file_name,
    migration_from_json,
    migration_to_json,
    parse_migration_file_name,
)
from selinon_django.errors import ConfigurationError
from selinon_django.management.options import (
    add_definition_arguments,
    configuration_error,
    definition_paths,
    load_definition_files,
    positive_int,
)
from selinon_django.models import ConfigRevision, FlowMigrationRecord
from selinon_django.models.migrations import revisions_by_hash

#: exit status when the two configurations need no migration (not an error: nothing was written)
EXIT_NOTHING_TO_MIGRATE = 3

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Side:
    """One of the two configurations compared, with where it came from."""

    config: SystemConfig
    description: str
    revision: Any = None  # ConfigRevision or None


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def existing_files(directory: Path) -> dict[int, Path]:
    """The ``N.json`` files of a migration directory (other files are ignored)."""
    if not directory.is_dir():
        return {}
    found: dict[int, Path] = {}
    for path in directory.iterdir():
        version = parse_migration_file_name(path.name)
        if version is not None and path.is_file():
            found[version] = path
    return found


def store_migration(
    migration: Migration,
    old: Side,
    new: Side,
    *,
    migration_dir: Path | None,
    include_meta: bool = True,
    created_by_name: str = "",
) -> tuple[int, Path | None]:
    """Store ``migration`` as the next version (row and, with a directory, ``N.json``).

    Files of the directory newer than the newest row are stored as rows first (a Selinon
    directory being continued). Refuses (CommandError) a migration equal to the latest one, or
    one between the same two configurations as an existing one: applying a migration twice
    would point running flows at wrong edges.
    """
    from_hash, to_hash = content_hash(old.config), content_hash(new.config)
    files = existing_files(migration_dir) if migration_dir is not None else {}
    with transaction.atomic():
        # Serialises concurrent generations behind the newest row (PostgreSQL).
        newest = FlowMigrationRecord.objects.select_for_update().order_by("-version").first()
        latest_row = newest.version if newest is not None else 0
        for version in sorted(v for v in files if v > latest_row):
            try:
                imported = migration_from_json(files[version].read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise CommandError(f"{files[version]}: not a readable migration file: {error}") from error
            FlowMigrationRecord.objects.create(
                version=version,
                content=imported.to_dict(),
                tainted_flow_strategy=imported.tainted_flow_strategy.value,
                created_by_name=f"read from {files[version]}"[:150],
            )
        latest = FlowMigrationRecord.objects.order_by("-version").first()
        if FlowMigrationRecord.objects.filter(from_hash=from_hash, to_hash=to_hash).exists():
            raise CommandError(
                "a migration between these two configurations exists already: generating it again would apply "
                "it twice to running flows"
            )
        if latest is not None and latest.migration().same_changes(migration):
            raise CommandError(
                f"this migration equals the latest one (version {latest.version}): generating the same migration "
                "twice would apply it twice to running flows"
            )
        version = (latest.version if latest is not None else 0) + 1
        if version in files:
            raise CommandError(f"{files[version]} exists already; is the migration directory the right one?")
        FlowMigrationRecord.objects.create(
            version=version,
            from_revision=old.revision,
            to_revision=new.revision,
            from_hash=from_hash,
            to_hash=to_hash,
            content=migration.to_dict(include_meta=include_meta),
            tainted_flow_strategy=migration.tainted_flow_strategy.value,
            created_by_name=created_by_name[:150],
        )
        path = None
        if migration_dir is not None:
            migration_dir.mkdir(parents=True, exist_ok=True)
            path = migration_dir / migration_file_name(version)
            try:
                with path.open("x", encoding="utf-8") as handle:
                    handle.write(migration_to_json(migration, include_meta=include_meta))
            except FileExistsError as error:
                raise CommandError(f"{path} exists already (another generation at the same time?)") from error
    return version, path


def git_sources(paths: tuple[str, ...], role: str, ref: str) -> list[SourceFile]:
    """The files at ``ref`` (a flows directory: its YAML files at ``ref``), read with ``git show``."""
    sources: list[SourceFile] = []
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            listing = _git(path, "ls-tree", "--name-only", ref, "./")
            names = sorted(n for n in listing.splitlines() if n.endswith(YAML_SUFFIXES))
            files = [path / name for name in names]
        else:
            files = [path]
        for file in files:
            text = _git(file.parent, "show", f"{ref}:./{file.name}")
            sources.append(SourceFile(path=str(file), role=role, text=text))  # type: ignore[arg-type]
    return sources


def _git(cwd: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd if str(cwd) else ".", capture_output=True, text=True, check=False, timeout=60
        )
    except OSError as error:
        raise CommandError(f"cannot run git: {error}") from error
    if done.returncode != 0:
        raise CommandError(f"git {' '.join(args)} (in {cwd or '.'}) failed: {done.stderr.strip()}")
    return done.stdout


class Command(BaseCommand):
    help = (
        "Compute the migration of running flows between two configurations and keep it: a row the "
        "workers apply, and Selinon's N.json in the migration directory. The two configurations are by "
        "default the current revision and the one before; or YAML files: the new ones with -n/-f and the "
        "old ones with --old-nodes-definition/--old-flow-definitions or from git (--git: the files at "
        "HEAD~1 against the working tree). Only edges' from/to count; conditions and fallbacks do not. "
        f"Exit status: 0 a migration was stored; {EXIT_NOTHING_TO_MIGRATE} nothing to migrate (nothing "
        "written); 1 an error, or a migration equal to the latest one (refused)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_definition_arguments(parser, fallback="the current revision")
        parser.add_argument("--old-nodes-definition", dest="old_nodes", action="append", metavar="NODES.yaml",
                            help="The old nodes file (repeatable).")
        parser.add_argument("--old-flow-definitions", dest="old_flows", action="append", metavar="FLOW.yaml|DIR",
                            help="The old flow files or directories (repeatable).")
        parser.add_argument("--git", action="store_true",
                            help="Take the old files from git: the -n/-f files as they are at --git-ref.")
        parser.add_argument("--git-ref", default="HEAD~1", metavar="REF", help="The git revision of --git (HEAD~1).")
        parser.add_argument("--old-revision", type=positive_int, metavar="N",
                            help="Stored revision to migrate from (default: the one before --new-revision).")
        parser.add_argument("--new-revision", type=positive_int, metavar="N",
                            help="Stored revision to migrate to (default: the current revision).")
        parser.add_argument("--tainted-flow-strategy", default="IGNORE", type=str.upper,
                            choices=[s.value for s in TaintedFlowStrategy],
                            help="What a flow tainted by this migration does: IGNORE (traced, goes on; default), "
                                 "RETRY (starts again from scratch) or FAIL.")
        parser.add_argument("--migration-dir", metavar="DIR",
                            help="Where N.json files are read and written (default: global.migration_dir of the "
                                 "new configuration; without either, only the row is stored).")
        parser.add_argument("--no-meta", action="store_true", help="Leave out _meta (who, where, when).")
        parser.add_argument("--dry-run", action="store_true", help="Print the migration; store and write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        old, new = self._sides(options)
        meta = None if options["no_meta"] else self._meta(old, new)
        migration = generate_migration(old.config, new.config, options["tainted_flow_strategy"], meta)
        if migration is None:
            raise CommandError(
                f"Nothing to migrate: {old.description} and {new.description} have the same edges in every flow "
                "they share.",
                returncode=EXIT_NOTHING_TO_MIGRATE,
            )
        self._describe(migration)
        if options["dry_run"]:
            self.stdout.write(migration_to_json(migration, include_meta=not options["no_meta"]))
            return
        directory = options["migration_dir"] or new.config.global_config.migration_dir
        version, path = store_migration(
            migration, old, new,
            migration_dir=Path(directory) if directory else None,
            include_meta=not options["no_meta"],
            created_by_name=_os_user(),
        )
        where = f" and written to {path}" if path is not None else " (no migration directory: no file written)"
        self.stdout.write(self.style.SUCCESS(f"Migration {version} stored{where}."))
        if new.revision is None:
            self.stdout.write(
                "The new configuration is not a stored revision yet: runs move to it once it is loaded "
                "(manage.py selinon_load)."
            )

    def _describe(self, migration: Migration) -> None:
        for name, flow in sorted(migration.flows.items()):
            moved = sum(1 for new in flow.translation.values() if new is not None)
            dropped = sum(1 for new in flow.translation.values() if new is None)
            self.stdout.write(
                f"{name}: {len(flow.tainted_edges)} tainted edge(s), {len(flow.tainting_nodes)} new edge(s) with "
                f"tainting nodes, {moved} edge(s) renumbered, {dropped} dropped"
            )

    def _meta(self, old: Side, new: Side) -> dict[str, Any]:
        return {
            "datetime": datetime.datetime.now(datetime.UTC).isoformat(),
            "user": _os_user(),
            "host": platform.node(),
            "generator": "selinon_django selinon_migrate",
            "old": old.description,
            "new": new.description,
        }

    def _sides(self, options: Mapping[str, Any]) -> tuple[Side, Side]:
        from selinon_django.config import load_config
        from selinon_django.config.load import load_config_from_sources

        old_given = bool(options.get("old_nodes") or options.get("old_flows"))
        revisions_given = options.get("old_revision") is not None or options.get("new_revision") is not None
        paths = definition_paths(options, use_settings=False) if (old_given or options["git"]) else None
        if options.get("nodes") or options.get("flows"):
            paths = definition_paths(options, use_settings=False)
        if revisions_given and (paths is not None or old_given or options["git"]):
            raise CommandError("--old-revision/--new-revision cannot be combined with definition files or --git")
        if paths is None:
            if old_given or options["git"]:
                raise CommandError("--old-* and --git need the new files too: -n NODES.yaml [-f FLOW.yaml|DIR]")
            return self._revision_sides(options.get("old_revision"), options.get("new_revision"))
        new = self._file_side(load_definition_files(paths), "files " + ", ".join((*paths.nodes, *paths.flows)))
        if options["git"] and old_given:
            raise CommandError("give either --old-nodes-definition/--old-flow-definitions or --git, not both")
        if options["git"]:
            ref = options["git_ref"]
            sources = git_sources(paths.nodes, "nodes", ref) + git_sources(paths.flows, "flows", ref)
            try:
                # the graph is what a migration needs: schema files at that commit are not read
                old_config = load_config_from_sources(sources, require_schemas=False)
            except ConfigurationError as error:
                raise configuration_error(error) from error
            return self._file_side(old_config, f"the same files at git {ref}"), new
        if not old_given:
            raise CommandError("with -n/-f, give the old files (--old-nodes-definition, --old-flow-definitions) "
                               "or --git")
        old_nodes = list(options.get("old_nodes") or [])
        if not old_nodes:
            raise CommandError("--old-flow-definitions needs --old-nodes-definition")
        for path in (*old_nodes, *(options.get("old_flows") or [])):
            if not Path(path).exists():
                raise CommandError(f"{path}: file or directory not found")
        try:
            old_config = load_config(old_nodes, list(options.get("old_flows") or []))
        except ConfigurationError as error:
            raise configuration_error(error) from error
        return self._file_side(old_config, "files " + ", ".join(map(os.fspath, old_nodes))), new

    def _file_side(self, config: SystemConfig, description: str) -> Side:
        """A configuration read from files, linked to a stored revision with its content by the
        rule that links a row stored before its revisions were loaded (the newest such revision,
        :class:`~selinon_django.engine.migration_plan.RevisionsByHash`)."""
        digest = content_hash(config)
        found = revisions_by_hash([digest]).newest(digest)
        revision = ConfigRevision.objects.get(pk=found.id) if found is not None else None
        if revision is not None:
            description += f" (revision {revision.number})"
        return Side(config, description, revision)

    def _revision_sides(self, old_number: int | None, new_number: int | None) -> tuple[Side, Side]:
        from selinon_django.management.options import stored_config

        new_config, new_revision = stored_config(new_number)
        if old_number is None:
            if new_revision.number <= 1:
                raise CommandError(
                    f"revision {new_revision.number} has no previous revision to migrate from; load the new "
                    "configuration first (manage.py selinon_load) or give the files"
                )
            old_number = new_revision.number - 1
        if old_number >= new_revision.number:
            raise CommandError(f"--old-revision {old_number} must be older than revision {new_revision.number}")
        old_config, old_revision = stored_config(old_number)
        return (
            Side(old_config, f"revision {old_revision.number}", old_revision),
            Side(new_config, f"revision {new_revision.number}", new_revision),
        )
