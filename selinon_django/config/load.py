"""The loading pipeline: files or texts -> schema -> parse -> checks -> :class:`SystemConfig`.

Each stage reports every problem it finds; a later stage runs only when the earlier ones found
nothing (a schema error would otherwise cascade into confusing semantic errors).
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from selinon_django.config.checks import check
from selinon_django.config.model import SourceFile, SystemConfig, freeze
from selinon_django.config.parse import Document, parse_documents
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


def load_documents(
    docs: Sequence[Document], *, environ: Mapping[str, str] | None = None, sources: Sequence[SourceFile] = ()
) -> SystemConfig:
    """Validate, parse and check already-read documents; raises :class:`ConfigurationError`."""
    env = os.environ if environ is None else environ
    issues: list[ConfigIssue] = []
    for doc in docs:
        issues.extend(schema_issues(doc.data, doc.file))
    if issues:
        raise ConfigurationError(_annotated(issues, docs))
    parsed = parse_documents(docs, env)
    issues = parsed.issues + check(parsed)
    if issues:
        raise ConfigurationError(_annotated(issues, docs))
    return SystemConfig(
        tasks=_frozen_mapping(parsed.tasks),
        storages=_frozen_mapping(parsed.storages),
        flows=_frozen_mapping(parsed.flows),
        global_config=parsed.global_config,
        sources=tuple(sources),
        triggers=freeze(parsed.triggers),
    )


def _frozen_mapping(data: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(data))


def load_config_from_sources(
    sources: Sequence[SourceFile], *, environ: Mapping[str, str] | None = None
) -> SystemConfig:
    """Load from source texts (for example the ones a stored revision keeps)."""
    docs: list[Document] = []
    issues: list[ConfigIssue] = []
    seen: set[str] = set()
    unique: list[SourceFile] = []
    for source in sources:
        if source.path in seen:
            continue  # one file given as nodes and as flows (a single-file configuration)
        seen.add(source.path)
        unique.append(source)
        try:
            docs.append(Document(source.path, load_yaml(source.text, source.path), source.role))
        except YamlError as error:
            issues.append(error.issue)
    if issues:
        raise ConfigurationError(issues)
    if not docs:
        raise ConfigurationError([ConfigIssue("", "", "no configuration files given")])
    return load_documents(docs, environ=environ, sources=unique)


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
    nodes: Sequence[str | Path], flows: Sequence[str | Path], *, environ: Mapping[str, str] | None = None
) -> SystemConfig:
    """Load a configuration from a nodes file (or several) and flow files or directories."""
    return load_config_from_sources(read_sources(nodes, flows), environ=environ)


def config_from_normalised(data: Mapping[str, Any], *, environ: Mapping[str, str] | None = None) -> SystemConfig:
    """Parse normalised data (as :func:`normalise` returns it; it is valid Selinon YAML data)."""
    return load_documents([Document(NORMALISED_FILE, data)], environ=environ)
