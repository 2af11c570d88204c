"""What the selinon_* commands share: where definitions come from, and turning errors into CommandError.

Definition files come, in this order, from the ``-n``/``-f`` options, the environment
(``SELINON_NODES_DEFINITION``, one path; ``SELINON_FLOW_DEFINITIONS``, ``:``-separated, as in
Selinon's CLI) and, for ``selinon_load`` only, ``SELINON_DJANGO['NODES_DEFINITION']`` and
``['FLOW_DEFINITIONS']``. The read-only commands fall back to a stored revision instead, since
"what is loaded" is what they are usually asked about.
"""
from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from selinon_django.config.model import SystemConfig
from selinon_django.errors import ConfigurationError

ENV_NODES = "SELINON_NODES_DEFINITION"
ENV_FLOWS = "SELINON_FLOW_DEFINITIONS"


def add_definition_arguments(parser: argparse.ArgumentParser, *, fallback: str) -> None:
    """``-n``/``-f``; ``fallback`` says what the command uses when neither is given."""
    parser.add_argument(
        "-n",
        "--nodes-definition",
        dest="nodes",
        action="append",
        metavar="NODES.yaml",
        help=f"YAML file with tasks, storages and the flows list (repeatable). Default: ${ENV_NODES}, then {fallback}.",
    )
    parser.add_argument(
        "-f",
        "--flow-definitions",
        dest="flows",
        action="append",
        metavar="FLOW.yaml|DIR",
        help=(
            "YAML file with flow-definitions, or a directory of them (repeatable). "
            f"Default: ${ENV_FLOWS} (':'-separated), then {fallback}."
        ),
    )


def add_revision_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--revision",
        type=positive_int,
        metavar="N",
        help=f"{what} stored configuration revision N instead of definition files (default: the current revision).",
    )


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


@dataclass(frozen=True)
class DefinitionPaths:
    nodes: tuple[str, ...]
    flows: tuple[str, ...]
    #: where they came from, for messages: "options", "environment" or "settings"
    origin: str


def definition_paths(
    options: Mapping[str, Any], *, use_settings: bool, environ: Mapping[str, str] | None = None
) -> DefinitionPaths | None:
    """The definition files to read, or None when nothing names any (checked to exist)."""
    environ = os.environ if environ is None else environ
    nodes: list[str] = list(options.get("nodes") or [])
    flows: list[str] = list(options.get("flows") or [])
    origin = "options"
    if not nodes and environ.get(ENV_NODES):
        nodes, origin = [environ[ENV_NODES]], "environment"
    if not flows and environ.get(ENV_FLOWS):
        flows, origin = [p for p in environ[ENV_FLOWS].split(":") if p], "environment"
    if use_settings and (not nodes or not flows):
        from selinon_django.conf import selinon_settings

        conf = selinon_settings()
        if not nodes and conf.NODES_DEFINITION:
            nodes, origin = [os.fspath(conf.NODES_DEFINITION)], "settings"
        if not flows and conf.FLOW_DEFINITIONS:
            flows, origin = [os.fspath(p) for p in conf.FLOW_DEFINITIONS], "settings"
    if not nodes and not flows:
        return None
    if not nodes:
        raise CommandError(f"flow definitions were given but no nodes definition: use -n NODES.yaml (or ${ENV_NODES})")
    if not flows:
        raise CommandError(f"a nodes definition was given but no flow definitions: use -f FLOW|DIR (or ${ENV_FLOWS})")
    for path in nodes:
        if not Path(path).is_file():
            raise CommandError(f"{path}: nodes definition file not found")
    for path in flows:
        if not Path(path).exists():
            raise CommandError(f"{path}: flow definitions file or directory not found")
    return DefinitionPaths(tuple(nodes), tuple(flows), origin)


def configuration_error(error: ConfigurationError) -> CommandError:
    """Every issue on its own line (``file: key.path: message``), for stderr."""
    count = len(error.issues)
    header = f"invalid configuration ({count} issue{'s' if count != 1 else ''}):" if count else "invalid configuration:"
    lines = [str(issue) for issue in error.issues] or [str(error)]
    return CommandError("\n".join([header, *lines]))


def load_definition_files(paths: DefinitionPaths) -> SystemConfig:
    from selinon_django.config import load_config

    try:
        return load_config(paths.nodes, paths.flows)
    except ConfigurationError as error:
        raise configuration_error(error) from error


def stored_config(number: int | None) -> tuple[SystemConfig, Any]:
    """(configuration, revision) of revision ``number`` or the current one; CommandError if none."""
    from selinon_django.revisions import NoRevisionError, get_revision

    try:
        revision = get_revision(number)
    except NoRevisionError as error:
        raise CommandError(str(error)) from error
    try:
        return revision.system_config(), revision
    except ConfigurationError as error:
        raise configuration_error(error) from error


def resolve_config(options: Mapping[str, Any]) -> tuple[SystemConfig, Any, str]:
    """For the read-only commands: (config, revision or None, description of where it came from)."""
    revision_number = options.get("revision")
    paths = None if revision_number is not None else definition_paths(options, use_settings=False)
    if revision_number is not None and (options.get("nodes") or options.get("flows")):
        raise CommandError("--revision cannot be combined with -n/-f")
    if paths is not None:
        config = load_definition_files(paths)
        return config, None, "files " + ", ".join((*paths.nodes, *paths.flows))
    config, revision = stored_config(revision_number)
    return config, revision, f"revision {revision.number} ({revision.short_hash})"


def safe_file_name(name: str) -> str:
    """A flow name as a file name (flow names are free text in YAML)."""
    cleaned = "".join(c if c.isalnum() or c in "-_.+" else "_" for c in name).lstrip(".")
    return cleaned or "flow"
