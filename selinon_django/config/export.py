"""YAML export: the normalised configuration split into a nodes file and a flows file.

The text is generated from :func:`normalise`, so loading it back gives the same content hash.
"""
from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any

import yaml

from selinon_django.config.model import SystemConfig
from selinon_django.config.normalise import OUTPUT_SCHEMAS_KEY, content_hash, normalise

__all__ = ["export_yaml"]

NODES_KEYS = ("tasks", "storages", "flows", "global", "triggers", "schedules")


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key (easier to read and diff)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _dump(data: dict[str, Any], header: str) -> str:
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
    return header + body


def _safe_relative(path: str) -> bool:
    """Whether a schema path can be written below the export directory (an uploaded revision's
    paths are the uploader's text: no absolute paths, no ``..``)."""
    parts = PurePosixPath(path).parts
    return bool(parts) and not PurePosixPath(path).is_absolute() and ".." not in parts and "\\" not in path


def export_yaml(config: SystemConfig) -> dict[str, str]:
    """``{"nodes.yaml": text, "flows.yaml": text, <schema path>: json}`` that load back to the
    same configuration from a directory (schemas at a path that would leave it are left out)."""
    data = normalise(config)
    header = f"# Exported by selinon_django; content hash {content_hash(config)}\n---\n"
    nodes = {key: data[key] for key in NODES_KEYS if data.get(key)}
    flows = {"flow-definitions": data["flow-definitions"]}
    files = {"nodes.yaml": _dump(nodes, header), "flows.yaml": _dump(flows, header)}
    for path, document in (data.get(OUTPUT_SCHEMAS_KEY) or {}).items():
        if _safe_relative(path) and path not in files:
            files[path] = json.dumps(document, indent=2, sort_keys=True) + "\n"
    return files
