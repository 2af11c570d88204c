"""``manage.py selinon_run FLOW``: start a flow through Celery, optionally wait and print its tree.

Exit status: 0 the flow succeeded (or was started, without ``--wait``), 1 it failed or was
revoked or the wait timed out, 2 bad input (unknown flow, invalid or too large or too deeply
nested JSON, no path for a selective run): a ``CommandError`` saying what is wrong.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from selinon_django import run_actions
from selinon_django.conf import selinon_settings
from selinon_django.errors import SelectiveNoPathError, UnknownFlowError
from selinon_django.management.options import BAD_INPUT, bounded_number, json_argument, stored_text
from selinon_django.run_actions import Actor
from selinon_django.runtime.queue_status import why_waiting

#: the longest --wait (a year): a finite deadline, whatever was typed
MAX_TIMEOUT = 365 * 24 * 3600.0


class Command(BaseCommand):
    help = "Start a flow on the Celery workers; --wait waits for its end and prints the run tree."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("flow_name", type=stored_text)
        parser.add_argument("--node-args", help="the flow's node_args as JSON")
        parser.add_argument("--node-args-file", help="read node_args (JSON) from this file")
        parser.add_argument("--selective-task-names", type=stored_text,
                            help="comma-separated tasks: run only what leads to them")
        parser.add_argument("--selective-follow-subflows", action="store_true")
        parser.add_argument("--selective-run-subsequent", action="store_true")
        parser.add_argument("--wait", action="store_true", help="wait for the flow to end and print its tree")
        parser.add_argument("--timeout", type=bounded_number(MAX_TIMEOUT), default=600.0,
                            help="seconds --wait waits (default 600)")
        parser.add_argument("--report", help="with --wait: write the run report (JSON) to this file")

    def _node_args(self, options: dict[str, Any]) -> Any:
        if options["node_args"] is not None and options["node_args_file"] is not None:
            raise CommandError("give --node-args or --node-args-file, not both", returncode=BAD_INPUT)
        # bounded in size and nesting, no NUL or NaN: the same rules as the REST API
        return json_argument(options["node_args"], options["node_args_file"], label="node_args")

    def handle(self, *args: Any, **options: Any) -> None:
        from selinon_django.models import FlowRun
        from selinon_django.runtime.report import format_tree, run_report

        node_args = self._node_args(options)
        flow_name = options["flow_name"]
        try:
            names = [n.strip() for n in (options["selective_task_names"] or "").split(",") if n.strip()]
            run_id = run_actions.start(
                Actor.command(), flow_name, node_args, names,
                follow_subflows=options["selective_follow_subflows"],
                run_subsequent=options["selective_run_subsequent"],
            )
        except (UnknownFlowError, SelectiveNoPathError) as error:
            raise CommandError(str(error), returncode=BAD_INPUT) from None
        self.stdout.write(f"started {flow_name}: {run_id}")
        if not options["wait"]:
            return
        deadline = time.monotonic() + options["timeout"]
        interval = 0.02
        while True:
            status = FlowRun.objects.filter(pk=run_id).values_list("status", flat=True).first()
            if status in ("succeeded", "failed", "revoked"):
                break
            if time.monotonic() > deadline:
                self.stderr.write(f"timed out after {options['timeout']} s; the run goes on ({status})")
                for reason in why_waiting(run_id, selinon_settings().WORKERS_INSPECT_TIMEOUT):
                    self.stderr.write(reason)
                sys.exit(1)
            time.sleep(interval)
            interval = min(interval * 1.5, 0.5)
        report = run_report(run_id)
        self.stdout.write(format_tree(report).rstrip("\n"))
        if options["report"]:
            Path(options["report"]).write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        if status != "succeeded":
            sys.exit(1)
