"""``manage.py selinon_inspect``: questions about a configuration (files or a stored revision)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from selinon_django.conf import selinon_settings
from selinon_django.config.model import SystemConfig
from selinon_django.management.options import (
    ENV_FLOWS,
    ENV_NODES,
    add_definition_arguments,
    add_revision_argument,
    resolve_config,
)


class Command(BaseCommand):
    help = (
        "Inspect a Selinon configuration: definition files (-n/-f, or "
        f"${ENV_NODES}/${ENV_FLOWS}) or, without files, the current stored revision. Without an option "
        "it prints a summary."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_definition_arguments(parser, fallback="the current stored revision")
        add_revision_argument(parser, "Inspect")
        parser.add_argument(
            "--list-task-queues", action="store_true", help="Print 'task:queue' for every task, one per line."
        )
        parser.add_argument(
            "--list-dispatcher-queues",
            action="store_true",
            help="Print 'flow:queue' (the queue of the flow's dispatcher) for every flow, one per line.",
        )
        parser.add_argument(
            "--dump",
            metavar="FILE",
            help="Write the normalised configuration (the JSON a revision stores) to FILE; '-' for stdout.",
        )
        parser.add_argument(
            "--check-imports",
            action="store_true",
            help="Import every task class, storage class, predicate and function the configuration names; "
            "report what fails (non-zero exit).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from selinon_django.config import check_imports, normalise

        dump_target = options.get("dump")
        if dump_target and dump_target != "-" and not Path(dump_target).resolve().parent.is_dir():
            raise CommandError(f"{dump_target}: the directory to write the dump into does not exist")
        config, _revision, origin = resolve_config(options)
        acted = False
        if options["list_task_queues"]:
            acted = True
            for name in config.tasks:
                self.stdout.write(f"{name}:{config.task_queue(name)}")
        if options["list_dispatcher_queues"]:
            acted = True
            for name in config.flows:
                self.stdout.write(f"{name}:{config.dispatcher_queue(name)}")
        if dump_target:
            acted = True
            text = json.dumps(normalise(config), indent=2, sort_keys=True) + "\n"
            if dump_target == "-":
                self.stdout.write(text, ending="")
            else:
                Path(dump_target).write_text(text, encoding="utf-8")
                # stderr: the dump may go to stdout in another invocation; keep stdout pure data
                sys.stderr.write(f"Wrote the normalised configuration to {dump_target}\n")
        if options["check_imports"]:
            acted = True
            issues = check_imports(config, selinon_settings().PREDICATES_MODULES)
            if issues:
                raise CommandError(
                    f"{len(issues)} import{'s' if len(issues) != 1 else ''} failed:\n"
                    + "\n".join(str(issue) for issue in issues)
                )
            self.stdout.write("Every import of the configuration succeeded.")
        if not acted:
            self._summary(config, origin)

    def _summary(self, config: SystemConfig, origin: str) -> None:
        write = self.stdout.write
        write(f"Configuration from {origin}")
        write(f"{len(config.tasks)} tasks, {len(config.storages)} storages, {len(config.flows)} flows")
        for flow in config.flows.values():
            tasks = sum(1 for name in flow.nodes() if not config.is_flow(name))
            subflows = len(flow.nodes()) - tasks
            write(
                f"  {flow.name}: {len(flow.edges)} edges, {tasks} tasks, {subflows} sub-flows, "
                f"{len(flow.failures)} fallbacks, dispatcher queue {config.dispatcher_queue(flow.name)}"
            )
