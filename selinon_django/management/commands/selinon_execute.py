"""``manage.py selinon_execute``: run one flow to its end in this process, with no broker.

The flow runs on the same engine and the same task code as under Celery
(:mod:`selinon_django.runtime.inprocess`), on a simulated clock, so retries and sampling delays
cost nothing. Exit status: 0 the flow succeeded, 1 it failed (or could not go on), 2 bad input
(no such flow, malformed or oversized node_args, unknown selective task, no selective path, an
invalid configuration).
"""
from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from selinon_django.config.model import SystemConfig
from selinon_django.management.options import (
    ENV_FLOWS,
    ENV_NODES,
    add_definition_arguments,
    configuration_error,
    definition_paths,
    json_argument,
    load_definition_files,
    stored_text,
)

#: exit status of bad input (Django's CommandError exits 1 unless told otherwise)
BAD_INPUT = 2
FLOW_FAILED = 1


def bad_input(message: str) -> CommandError:
    return CommandError(message, returncode=BAD_INPUT)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


class Command(BaseCommand):
    help = (
        "Run a flow to its end in this process on a simulated clock (no broker, no workers), print "
        "each node start and finish and a summary, and optionally write the run report as JSON. "
        "With -n/-f (or $" + ENV_NODES + "/$" + ENV_FLOWS + ") the files are first stored as a "
        "configuration revision; otherwise the current revision runs (and without one, the "
        "SELINON_DJANGO NODES_DEFINITION/FLOW_DEFINITIONS files). Exit status 0: the flow "
        "succeeded, 1: it failed, 2: bad input."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_definition_arguments(parser, fallback="the current revision")
        parser.add_argument("--flow-name", required=True, type=stored_text, help="The flow to run.")
        args = parser.add_mutually_exclusive_group()
        args.add_argument("--node-args", metavar="JSON", help="The flow's node_args as JSON (default: null).")
        args.add_argument("--node-args-file", metavar="FILE", help="A file holding the node_args as JSON.")
        parser.add_argument(
            "--selective-task-names",
            metavar="A,B",
            help="Run only what leads to these tasks (a selective run), comma-separated.",
        )
        parser.add_argument(
            "--selective-follow-subflows", action="store_true", help="Look for the tasks inside sub-flows too."
        )
        parser.add_argument(
            "--selective-run-subsequent", action="store_true", help="Also run what follows the selected tasks."
        )
        parser.add_argument("--report", metavar="FILE", help="Write the run report (JSON) to FILE.")

    def handle(self, *args: Any, **options: Any) -> None:
        from selinon_django.errors import ConfigurationError, SelectiveNoPathError, UnknownFlowError
        from selinon_django.runtime.inprocess import ExecutionError, InProcessExecutor

        config, where = self._config(options)
        flow_name: str = options["flow_name"]
        if flow_name not in config.flows:
            known = ", ".join(sorted(config.flows)) or "none"
            raise bad_input(f"unknown flow {flow_name!r} in {where} (flows: {known})")
        node_args = self._node_args(options)
        plan = None
        if options.get("selective_task_names") is not None:
            plan = self._plan(config, flow_name, options)
        elif options["selective_follow_subflows"] or options["selective_run_subsequent"]:
            raise bad_input("--selective-follow-subflows/--selective-run-subsequent need --selective-task-names")

        verbose = int(options.get("verbosity", 1)) >= 1
        if verbose:
            self.stdout.write(f"Running {flow_name} from {where} (simulated clock)")

        def progress(now: float, message: str) -> None:
            if verbose:
                self.stdout.write(f"[{now:9.3f}s] {message}")

        executor = InProcessExecutor(config, progress=progress)
        try:
            result = executor.execute(flow_name, node_args, selective=plan)
        except ExecutionError as error:
            raise CommandError(str(error), returncode=FLOW_FAILED) from error
        except (UnknownFlowError, SelectiveNoPathError, ConfigurationError) as error:
            raise bad_input(str(error)) from error

        if options.get("report"):
            path = Path(options["report"])
            try:
                path.write_text(json.dumps(result.report, indent=2, default=repr) + "\n", encoding="utf-8")
            except OSError as error:
                raise CommandError(f"cannot write the report to {path}: {error}", returncode=FLOW_FAILED) from error
        self._summary(result, options.get("report"))
        if not result.succeeded:
            raise CommandError(f"flow {flow_name} {result.record.id} failed", returncode=FLOW_FAILED)

    # -- input -------------------------------------------------------------------------------

    def _config(self, options: dict[str, Any]) -> tuple[SystemConfig, str]:
        """The configuration to run and a description; files are stored as a revision first."""
        from selinon_django.revisions import NoRevisionError, get_revision, load_revision

        try:
            paths = definition_paths(options, use_settings=False)
            revision = None
            if paths is None:
                try:
                    revision = get_revision(None)
                except NoRevisionError:
                    paths = definition_paths(options, use_settings=True)
                    if paths is None:
                        raise bad_input(
                            f"no configuration: give -n NODES.yaml -f FLOW.yaml|DIR, set ${ENV_NODES}, "
                            "or load a revision with selinon_load"
                        ) from None
            if revision is not None:
                return _revision_config(revision), f"revision {revision.number}"
            assert paths is not None
            config = load_definition_files(paths)  # STRICT_IMPORTS is applied while loading
        except CommandError as error:
            raise bad_input(str(error)) from error
        revision, created = load_revision(config, created_by_name=_os_user(), comment="selinon_execute")
        state = "new revision" if created else "revision"
        # The files' own configuration runs: it equals the revision's and keeps the file paths
        # that relative output_schema paths are resolved against.
        return config, f"{state} {revision.number} ({', '.join((*paths.nodes, *paths.flows))})"

    @staticmethod
    def _node_args(options: dict[str, Any]) -> Any:
        # bounded in size and nesting, no NUL or NaN: the same rules as the REST API (exit status 2)
        return json_argument(options.get("node_args"), options.get("node_args_file"), label="node_args")

    @staticmethod
    def _plan(config: SystemConfig, flow_name: str, options: dict[str, Any]) -> Any:
        from selinon_django.engine.selective import compute_selective
        from selinon_django.errors import SelectiveNoPathError

        names = [name.strip() for name in options["selective_task_names"].split(",") if name.strip()]
        if not names:
            raise bad_input("--selective-task-names names no task")
        unknown = [name for name in names if name not in config.tasks]
        if unknown:
            raise bad_input(f"--selective-task-names: unknown task(s) {', '.join(unknown)}")
        try:
            return compute_selective(
                config,
                flow_name,
                names,
                follow_subflows=options["selective_follow_subflows"],
                run_subsequent=options["selective_run_subsequent"],
            )
        except SelectiveNoPathError as error:
            raise bad_input(f"selective run: {error}") from error

    # -- output ------------------------------------------------------------------------------

    def _summary(self, result: Any, report_path: str | None) -> None:
        record = result.record
        counts = ", ".join(_plural(n, what) for what, n in sorted(result.counts.items())) or "no nodes"
        line = f"{record.flow} {record.id} {record.status} after {result.elapsed:.3f} s (simulated): {counts}"
        style = self.style.SUCCESS if result.succeeded else self.style.ERROR
        self.stdout.write(style(line))
        for name, node_id, error in _failures(result.report):
            self.stdout.write(f"  failed: {name} {node_id}: {error}")
        if report_path:
            self.stdout.write(f"Report written to {report_path}")


def _plural(count: int, kind_status: str) -> str:
    kind, _, status = kind_status.partition(" ")
    return f"{count} {kind}{'' if count == 1 else 's'} {status}"


def _revision_config(revision: Any) -> SystemConfig:
    from selinon_django.errors import ConfigurationError

    try:
        config: SystemConfig = revision.system_config()
    except ConfigurationError as error:
        raise bad_input(str(configuration_error(error))) from error
    return config


def _failures(report: dict[str, Any], path: str = "") -> list[tuple[str, str, str]]:
    """Failed tasks of the whole tree as ``(flow/.../task, id, exception)``."""
    found: list[tuple[str, str, str]] = []
    where = f"{path}{report['flow']}/"
    for node in report["nodes"]:
        if node["kind"] == "task" and node["status"] == "failed":
            found.append((where + node["name"], node["id"], node.get("exception", "")))
        if "run" in node:
            found.extend(_failures(node["run"], where))
    return found
