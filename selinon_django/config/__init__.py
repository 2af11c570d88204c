"""The configuration layer: Selinon YAML in, immutable :mod:`selinon_django.config.model` objects out.

Pure Python (no Django, no Celery) so the engine and its tests can use it without a database.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from selinon_django.config.model import SourceFile, SystemConfig
from selinon_django.errors import ConfigIssue

__all__ = [
    "check_imports",
    "config_from_normalised",
    "content_hash",
    "disallowed_imports",
    "export_yaml",
    "load_config",
    "load_config_from_sources",
    "normalise",
]


def load_config(
    nodes: Sequence[str | Path], flows: Sequence[str | Path], *, environ: Mapping[str, str] | None = None
) -> SystemConfig:
    raise NotImplementedError


def load_config_from_sources(sources: Sequence[SourceFile], *, environ: Mapping[str, str] | None = None) -> SystemConfig:
    raise NotImplementedError


def normalise(config: SystemConfig) -> dict[str, Any]:
    raise NotImplementedError


def content_hash(config: SystemConfig) -> str:
    raise NotImplementedError


def config_from_normalised(data: Mapping[str, Any], *, environ: Mapping[str, str] | None = None) -> SystemConfig:
    raise NotImplementedError


def export_yaml(config: SystemConfig) -> dict[str, str]:
    raise NotImplementedError


def check_imports(config: SystemConfig) -> list[ConfigIssue]:
    raise NotImplementedError


def disallowed_imports(config: SystemConfig, prefixes: Sequence[str]) -> list[ConfigIssue]:
    raise NotImplementedError
