"""YAML export: the normalised configuration split into a nodes file and a flows file.

The text is generated from :func:`normalise`, so loading it back gives the same content hash.
"""
from __future__ import annotations

from typing import Any

import yaml

from selinon_django.config.model import SystemConfig
from selinon_django.config.normalise import content_hash, normalise

__all__ = ["export_yaml"]

NODES_KEYS = ("tasks", "storages", "flows", "global", "triggers")


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key (easier to read and diff)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _dump(data: dict[str, Any], header: str) -> str:
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
    return header + body


def export_yaml(config: SystemConfig) -> dict[str, str]:
    """``{"nodes.yaml": text, "flows.yaml": text}`` that load back to the same configuration."""
    data = normalise(config)
    header = f"# Exported by selinon_django; content hash {content_hash(config)}\n---\n"
    nodes = {key: data[key] for key in NODES_KEYS if data.get(key)}
    flows = {"flow-definitions": data["flow-definitions"]}
    return {"nodes.yaml": _dump(nodes, header), "flows.yaml": _dump(flows, header)}
