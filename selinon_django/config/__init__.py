"""The configuration layer: Selinon YAML in, immutable :mod:`selinon_django.config.model` objects out.

Pure Python (no Django, no Celery) so the engine and its tests can use it without a database.
Loading never imports user code; :func:`check_imports` does, on demand.
"""
from __future__ import annotations

from selinon_django.config.export import export_yaml
from selinon_django.config.import_check import check_imports, disallowed_imports
from selinon_django.config.imports import allowed_import
from selinon_django.config.load import config_from_normalised, load_config, load_config_from_sources
from selinon_django.config.model import SourceFile, SystemConfig
from selinon_django.config.normalise import content_hash, normalise
from selinon_django.errors import ConfigIssue, ConfigurationError

__all__ = [
    "ConfigIssue",
    "ConfigurationError",
    "SourceFile",
    "SystemConfig",
    "allowed_import",
    "check_imports",
    "config_from_normalised",
    "content_hash",
    "disallowed_imports",
    "export_yaml",
    "load_config",
    "load_config_from_sources",
    "normalise",
]
