"""What the selinon_* commands share: where definitions come from, and turning errors into CommandError.

Definition files come from the first of these that names any: the ``-n``/``-f`` options, the
environment (``SELINON_NODES_DEFINITION``, one path; ``SELINON_FLOW_DEFINITIONS``,
``:``-separated, as in Selinon's CLI) and, for ``selinon_load`` only,
``SELINON_DJANGO['NODES_DEFINITION']`` and ``['FLOW_DEFINITIONS']``. The read-only commands
fall back to a stored revision instead, since "what is loaded" is what they are usually asked.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from selinon_django.conf import selinon_settings
from selinon_django.config.load import load_config
from selinon_django.config.model import SystemConfig
from selinon_django.errors import ConfigurationError
from selinon_django.origins import trust_for
from selinon_django.payloads import INT32_MAX, PayloadError, parse_bounded_int, parse_json_bytes

ENV_NODES = "SELINON_NODES_DEFINITION"
ENV_FLOWS = "SELINON_FLOW_DEFINITIONS"

#: exit status of a command refusing its input (as argparse's own refusals)
BAD_INPUT = 2


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
            "YAML file with flow-definitions, or a directory of them (repeatable; may be left out when the "
            f"nodes file holds the flow-definitions). Default: ${ENV_FLOWS} (':'-separated), then {fallback}."
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
    """An argparse type: a whole number from 1 to 2**31 - 1 (ids, sizes: what a database column holds)."""
    try:
        return parse_bounded_int(text, minimum=1, maximum=INT32_MAX)
    except PayloadError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def stored_text(text: str) -> str:
    """An argparse type for names and ids that reach the database: no NUL, no bytes that are not
    UTF-8 (a shell passes those through as lone surrogates, which no database encoding holds)."""
    if "\x00" in text or any("\ud800" <= char <= "\udfff" for char in text):
        raise argparse.ArgumentTypeError(f"{text[:40]!r} holds a NUL character or bytes that are not UTF-8")
    return text


def bounded_number(maximum: float) -> Any:
    """An argparse type: a finite number from 0 to ``maximum`` (``nan``, ``inf``, ``-1`` refused)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number") from None
        if not math.isfinite(value) or not 0 <= value <= maximum:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} must be a number from 0 to {maximum:g}")
        return value

    parse.__name__ = "number"  # argparse names the type in its messages
    return parse


def json_argument(text: str | None, path: str | None, *, label: str) -> Any:
    """The JSON value a command was given inline (``text``) or in the file ``path`` (None: neither).

    Bounded as the REST API bounds it: at most ``MAX_NODE_ARGS_BYTES`` are read (so a huge file or
    ``/dev/zero`` costs nothing), nesting at most ``MAX_JSON_DEPTH`` levels, no NUL, NaN or lone
    surrogates (:mod:`selinon_django.payloads`). A refusal is a ``CommandError`` with exit
    status 2 that names ``label`` and the problem.
    """
    conf = selinon_settings()
    limit = conf.MAX_NODE_ARGS_BYTES
    if path is not None:
        try:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
        except OSError as error:
            raise CommandError(f"cannot read {label} from {path}: {error.strerror or error}",
                               returncode=BAD_INPUT) from None
        source = path
    elif text is not None:
        try:  # bytes of the command line that are not UTF-8 come back as themselves (and are refused below)
            data = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raise CommandError(f"{label}: not UTF-8 text", returncode=BAD_INPUT) from None
        source = label
    else:
        return None
    if len(data) > limit:
        raise CommandError(f"{source}: more than MAX_NODE_ARGS_BYTES ({limit}) bytes of JSON", returncode=BAD_INPUT)
    try:
        return parse_json_bytes(data, max_depth=conf.MAX_JSON_DEPTH)
    except PayloadError as error:
        raise CommandError(f"{source}: {error}", returncode=BAD_INPUT) from None


@dataclass(frozen=True)
class DefinitionPaths:
    nodes: tuple[str, ...]
    flows: tuple[str, ...]
    #: where they came from, for messages: "options", "environment" or "settings"
    origin: str


def definition_paths(
    options: Mapping[str, Any], *, use_settings: bool, environ: Mapping[str, str] | None = None
) -> DefinitionPaths | None:
    """The definition files to read, or None when nothing names any (checked to exist).

    The first source that names anything wins as a whole: ``-n`` on the command line is never
    combined with flow files from the environment or the settings. The flow files may be
    omitted when the nodes file holds the ``flow-definitions`` itself.
    """
    environ = os.environ if environ is None else environ
    nodes: list[str] = [os.fspath(p) for p in options.get("nodes") or []]
    flows: list[str] = [os.fspath(p) for p in options.get("flows") or []]
    origin = "options"
    if not nodes and not flows:
        origin = "environment"
        nodes = [environ[ENV_NODES]] if environ.get(ENV_NODES) else []
        flows = [p for p in environ.get(ENV_FLOWS, "").split(":") if p]
    if not nodes and not flows and use_settings:
        conf = selinon_settings()
        origin = "settings"
        nodes = [os.fspath(conf.NODES_DEFINITION)] if conf.NODES_DEFINITION else []
        flows = [os.fspath(p) for p in conf.FLOW_DEFINITIONS]
    if not nodes and not flows:
        return None
    if not nodes:
        where = {"options": "-n NODES.yaml", "environment": f"${ENV_NODES}", "settings": "NODES_DEFINITION"}[origin]
        raise CommandError(f"flow definitions were given ({origin}) but no nodes definition: set {where}")
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
    """The files as a command loads them: with the ``command`` trust (``STRICT_IMPORTS`` applies)."""
    try:
        return load_config(paths.nodes, paths.flows, trust=trust_for("command"))
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
