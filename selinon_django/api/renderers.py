"""Renderers of flow graphs, so ``?format=svg|png|dot`` (DRF's format override) picks the picture.

The views hand these renderers bytes already drawn by graphviz; an error response (a dict) is
switched to JSON by :class:`~selinon_django.api.views.GraphResponseMixin` before it is rendered.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import BaseRenderer


class GraphRenderer(BaseRenderer):
    charset: str | None = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: Mapping[str, Any] | None = None) -> bytes:
        if isinstance(data, bytes):
            return data
        return str(data).encode("utf-8")


class SVGRenderer(GraphRenderer):
    media_type = "image/svg+xml"
    format = "svg"


class PNGRenderer(GraphRenderer):
    media_type = "image/png"
    format = "png"


class DOTRenderer(GraphRenderer):
    media_type = "text/vnd.graphviz"
    format = "dot"
    charset = "utf-8"


GRAPH_RENDERERS = (SVGRenderer, PNGRenderer, DOTRenderer)
GRAPH_FORMATS = tuple(r.format for r in GRAPH_RENDERERS)
