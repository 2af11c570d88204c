"""``manage.py selinon_cancel RUN_ID``: revoke a run, its sub-flows and their running tasks."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from selinon_django import run_actions
from selinon_django.management.options import stored_text
from selinon_django.run_actions import Actor
from selinon_django.runtime.api import RunStateError


class Command(BaseCommand):
    help = "Cancel a flow run: mark it, its sub-flows and their unfinished nodes revoked, terminate running tasks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run_id", type=stored_text)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            revoked = run_actions.cancel(Actor.command(), options["run_id"])
        except RunStateError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"cancelled {options['run_id']} ({revoked} node run(s) revoked)")
