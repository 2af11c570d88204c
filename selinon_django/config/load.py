"""The loading pipeline: files or texts -> schema -> parse -> checks -> :class:`SystemConfig`.

Each stage reports every problem it finds; a later stage runs only when the earlier ones found
nothing (a schema error would otherwise cascade into confusing semantic errors).
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from selinon_django.config.checks import check
from selinon_django.config.model import SourceFile, SystemConfig, freeze
from selinon_django.config.normalise import OUTPUT_SCHEMAS_KEY
from selinon_django.config.parse import Document, parse_documents
from selinon_django.config.schemas import SchemaProblem, SchemaSource, parse_schema_text
from selinon_django.config.trust import COMMAND, Trust, refused_imports
from selinon_django.config.validation import schema_issues
from selinon_django.config.yaml_loading import YamlError, line_of, load_yaml
from selinon_django.errors import ConfigIssue, ConfigurationError

__all__ = ["config_from_normalised", "load_config", "load_config_from_sources", "load_documents", "read_sources"]

YAML_SUFFIXES = (".yaml", ".yml")
NORMALISED_FILE = "<normalised>"


def _annotated(issues: list[ConfigIssue], docs: Sequence[Document]) -> list[ConfigIssue]:
    """Issues ordered by file and line, each message ending with its line where known."""
    data_of = {doc.file: doc.data for doc in docs}
    order = {doc.file: index for index, doc in enumerate(docs)}
    keyed: list[tuple[tuple[int, int], ConfigIssue]] = []
    for issue in issues:
        line = line_of(data_of[issue.file], issue.path) if issue.file in data_of else None
        message = f"{issue.message} (line {line})" if line is not None else issue.message
        keyed.append(((order.get(issue.file, len(order)), line or 0), ConfigIssue(issue.file, issue.path, message)))
    keyed.sort(key=lambda pair: pair[0])  # stable: same line keeps discovery order
    return [issue for _, issue in keyed]


def _trust(trust: Trust, environ: Mapping[str, str] | None) -> Trust:
    """``trust`` with ``environ`` in place of its environment (tests and callers that pass one)."""
    return trust if environ is None else dataclasses.replace(trust, environ=environ)


def load_documents(
    docs: Sequence[Document],
    *,
    environ: Mapping[str, str] | None = None,
    sources: Sequence[SourceFile] = (),
    trust: Trust = COMMAND,
    schemas: SchemaSource | None = None,
) -> SystemConfig:
    """Validate, parse and check already-read documents; raises :class:`ConfigurationError`.

    ``trust`` says what the configuration may reach (modules, environment variables, schema
    files); whatever it does not allow is reported like any other problem, so nothing half-
    trusted is ever returned.
    """
    trust = _trust(trust, environ)
    issues: list[ConfigIssue] = []
    for doc in docs:
        issues.extend(schema_issues(doc.data, doc.file))
    if issues:
        raise ConfigurationError(_annotated(issues, docs))
    parsed = parse_documents(docs, trust, schemas)
    issues = parsed.issues + check(parsed) + refused_imports(parsed.imports, trust)
    if issues:
        raise ConfigurationError(_annotated(issues, docs))
    return SystemConfig(
        tasks=_frozen_mapping(parsed.tasks),
        storages=_frozen_mapping(parsed.storages),
        flows=_frozen_mapping(parsed.flows),
        global_config=parsed.global_config,
        sources=tuple(sources),
        triggers=freeze(parsed.triggers),
        schedules=freeze(parsed.schedules),
        imports=tuple(parsed.imports),
    )


def _frozen_mapping(data: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(data))


def _common_directory(sources: Sequence[SourceFile]) -> Path | None:
    """The directory holding every source file read from disk (``output_schema`` paths stay in it)."""
    folders = [str(Path(source.path).resolve().parent) for source in sources if source.path]
    if not folders:
        return None
    return Path(os.path.commonpath(folders))


def load_config_from_sources(
    sources: Sequence[SourceFile],
    *,
    environ: Mapping[str, str] | None = None,
    trust: Trust = COMMAND,
    schema_documents: Mapping[str, Any] | None = None,
    require_schemas: bool = True,
) -> SystemConfig:
    """Load from source texts: files read by a command, an upload, or a stored revision's.

    Sources with the role ``schema`` are ``output_schema`` files (JSON), matched by path as the
    YAML writes it; ``schema_documents`` gives documents already parsed (a stored revision's).
    Other ``output_schema`` paths are read below ``trust.schema_root`` when it is set.
    ``require_schemas=False``: a schema that cannot be had leaves its task without a document
    instead of refusing the configuration (a caller that needs only the graph, e.g. migrations).
    """
    docs: list[Document] = []
    issues: list[ConfigIssue] = []
    seen: set[str] = set()
    unique: list[SourceFile] = []
    given: dict[str, Any] = dict(schema_documents or {})
    for source in sources:
        if source.path in seen:
            continue  # one file given as nodes and as flows (a single-file configuration)
        seen.add(source.path)
        unique.append(source)
        if source.role == "schema":
            try:
                given[source.path] = parse_schema_text(source.text, trust.max_schema_bytes)
            except SchemaProblem as problem:
                issues.append(ConfigIssue(source.path, "", f"output schema {problem}"))
            continue
        try:
            docs.append(Document(source.path, load_yaml(source.text, source.path), source.role))
        except YamlError as error:
            issues.append(error.issue)
    if issues:
        raise ConfigurationError(issues)
    if not docs:
        raise ConfigurationError([ConfigIssue("", "", "no configuration files given")])
    schemas = SchemaSource(given, root=trust.schema_root, max_bytes=trust.max_schema_bytes, required=require_schemas)
    return load_documents(docs, environ=environ, sources=unique, trust=trust, schemas=schemas)


def read_sources(nodes: Sequence[str | Path], flows: Sequence[str | Path]) -> list[SourceFile]:
    """Read the files (a flows entry may be a directory: its *.yaml/*.yml, sorted)."""
    sources: list[SourceFile] = []
    issues: list[ConfigIssue] = []
    seen: set[Path] = set()

    def add(path: Path, role: Literal["nodes", "flows"]) -> None:
        resolved = path.resolve()
        if resolved in seen:
            return
        seen.add(resolved)
        try:
            sources.append(SourceFile(path=str(path), role=role, text=path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            issues.append(ConfigIssue(str(path), "", "file not found"))
        except (OSError, UnicodeDecodeError) as error:
            issues.append(ConfigIssue(str(path), "", f"cannot read: {error}"))

    for entry in nodes:
        add(Path(entry), "nodes")
    for entry in flows:
        path = Path(entry)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in YAML_SUFFIXES)
            if not files:
                issues.append(ConfigIssue(str(path), "", "directory holds no *.yaml or *.yml file"))
            for file in files:
                add(file, "flows")
        else:
            add(path, "flows")
    if issues:
        raise ConfigurationError(issues)
    return sources


def load_config(
    nodes: Sequence[str | Path],
    flows: Sequence[str | Path],
    *,
    environ: Mapping[str, str] | None = None,
    trust: Trust = COMMAND,
) -> SystemConfig:
    """Load a configuration from a nodes file (or several) and flow files or directories.

    ``output_schema`` files are read below the directory that holds all of them (unless
    ``trust`` names another root).
    """
    sources = read_sources(nodes, flows)
    if trust.schema_root is None:
        trust = dataclasses.replace(trust, schema_root=_common_directory(sources))
    return load_config_from_sources(sources, environ=environ, trust=trust)


def config_from_normalised(
    data: Mapping[str, Any], *, environ: Mapping[str, str] | None = None, trust: Trust = COMMAND
) -> SystemConfig:
    """Parse normalised data (as :func:`normalise` returns it; it is valid Selinon YAML data
    plus the ``output_schema`` documents). No file is read: a schema missing from ``data`` (a
    revision stored before schemas were kept) leaves its task without a document."""
    body = {key: value for key, value in data.items() if key != OUTPUT_SCHEMAS_KEY}
    schemas = SchemaSource(data.get(OUTPUT_SCHEMAS_KEY) or {}, required=False)
    return load_documents(
        [Document(NORMALISED_FILE, body)], environ=environ, trust=dataclasses.replace(trust, schema_root=None),
        schemas=schemas,
    )
