"""``manage.py selinon_retry RUN_ID``: re-run a failed run from its failed nodes."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from selinon_django import run_actions
from selinon_django.management.options import stored_text
from selinon_django.run_actions import Actor
from selinon_django.runtime.api import RunStateError


class Command(BaseCommand):
    help = "Retry a failed top-level flow run from its failed nodes, keeping the nodes that succeeded."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run_id", type=stored_text)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run_actions.retry(Actor.command(), options["run_id"])
        except RunStateError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"retrying {options['run_id']}")
