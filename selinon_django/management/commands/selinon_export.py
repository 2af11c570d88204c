"""``manage.py selinon_export``: a stored revision written back as Selinon YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from selinon_django.management.options import add_revision_argument, stored_config


class Command(BaseCommand):
    help = (
        "Write a stored configuration revision as nodes.yaml and flows.yaml into a directory. "
        "Loading the files back gives the same content hash."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "-o", "--output-dir", required=True, metavar="DIR", help="Directory to write into (created if missing)."
        )
        add_revision_argument(parser, "Export")
        parser.add_argument(
            "--force", action="store_true", help="Overwrite nodes.yaml and flows.yaml if they exist in DIR."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from selinon_django.config import export_yaml

        output = Path(options["output_dir"])
        if output.exists() and not output.is_dir():
            raise CommandError(f"{output}: exists and is not a directory")
        config, revision = stored_config(options.get("revision"))
        files = export_yaml(config)
        if not options["force"]:
            existing = [str(output / name) for name in files if (output / name).exists()]
            if existing:
                raise CommandError(f"{', '.join(existing)}: already exists (use --force to overwrite)")
        output.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (output / name).parent.mkdir(parents=True, exist_ok=True)  # output schemas' folders
            (output / name).write_text(text, encoding="utf-8")
        self.stdout.write(
            f"Exported revision {revision.number} (hash {revision.content_hash}) to "
            + ", ".join(str(output / name) for name in files)
        )
