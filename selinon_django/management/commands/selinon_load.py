"""``manage.py selinon_load``: read Selinon YAML and store it as a new configuration revision."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from selinon_django.management.options import (
    ENV_FLOWS,
    ENV_NODES,
    add_definition_arguments,
    definition_paths,
    load_definition_files,
)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return ""


class Command(BaseCommand):
    help = (
        "Load Selinon YAML (nodes and flow definitions) into the database as a new, immutable "
        "configuration revision. Nothing is created when the content equals the current revision. "
        "On an invalid configuration every issue is printed (file: key path: message), nothing is "
        f"written and the exit status is non-zero. Files default to ${ENV_NODES} / ${ENV_FLOWS}, then to "
        "SELINON_DJANGO['NODES_DEFINITION'] / ['FLOW_DEFINITIONS']."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_definition_arguments(parser, fallback="SELINON_DJANGO['NODES_DEFINITION'] / ['FLOW_DEFINITIONS']")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check the configuration and say what would be created, without writing anything.",
        )
        parser.add_argument("--comment", default="", metavar="TEXT", help="A note stored with the new revision.")

    def handle(self, *args: Any, **options: Any) -> None:
        from selinon_django.revisions import load_revision

        paths = definition_paths(options, use_settings=True)
        if paths is None:
            raise CommandError(
                f"no definition files: give -n NODES.yaml -f FLOW.yaml|DIR, or set ${ENV_NODES} and ${ENV_FLOWS}"
            )
        config = load_definition_files(paths)  # STRICT_IMPORTS is applied while loading
        revision, created = load_revision(
            config, created_by_name=_os_user(), comment=options["comment"], dry_run=options["dry_run"]
        )
        if not created:
            self.stdout.write(
                f"The configuration equals the current revision {revision.number} "
                f"(hash {revision.content_hash}); nothing was created."
            )
        elif options["dry_run"]:
            self.stdout.write(
                f"Dry run: the configuration is valid and would be stored as revision {revision.number} "
                f"(hash {revision.content_hash}); nothing was written."
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(f"Created revision {revision.number} (hash {revision.content_hash})")
                + f": {len(config.tasks)} tasks, {len(config.storages)} storages, {len(config.flows)} flows."
            )
