"""``manage.py selinon_fire SESSION TRIGGER --kwargs JSON``: fire a trigger from the shell.

For operators and scripts (replaying an event, unblocking a session). Bad input (kwargs that
are not a JSON object, an empty name) exits with status 2 and says what is wrong; nothing is
recorded then.
"""
from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from selinon_django.management.options import json_argument, stored_text
from selinon_django.models.triggers import FiredTrigger
from selinon_django.triggers.manager import TriggerKwargsError, fire
from selinon_django.triggers.specs import TriggerConfigurationError


class Command(BaseCommand):
    help = (
        "Fire TRIGGER in trigger session SESSION with --kwargs (a JSON object); print the trigger tasks "
        "it scheduled. Exit status 2 on bad input."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("session", type=stored_text, help="the session (correlation key) the trigger belongs to")
        parser.add_argument("trigger", type=stored_text, help="the trigger name")
        parser.add_argument(
            "--kwargs", default="{}", metavar="JSON",
            help='the trigger kwargs as a JSON object, e.g. \'{"order": 42}\' (default: {})',
        )
        parser.add_argument("--json", action="store_true", help="print the outcome as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        # bounded in size and nesting, no NUL or NaN: the same rules as the REST API's fire
        kwargs = json_argument(options["kwargs"], None, label="--kwargs")
        if not isinstance(kwargs, dict):
            raise CommandError(f"--kwargs must be a JSON object, not {type(kwargs).__name__}", returncode=2)
        session, trigger = options["session"], options["trigger"]
        try:
            scheduled = fire(session, trigger, kwargs, source=FiredTrigger.Source.COMMAND)
        except (TriggerKwargsError, TriggerConfigurationError) as error:
            raise CommandError(str(error), returncode=2) from error
        if options["json"]:
            self.stdout.write(json.dumps({"session": session, "trigger": trigger, "scheduled": scheduled}))
            return
        what = ", ".join(scheduled) if scheduled else "no trigger task"
        self.stdout.write(f"fired {trigger} in session {session}; scheduled: {what}")
