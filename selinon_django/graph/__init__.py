"""Flow graphs: build a graphviz digraph of a flow and render it with ``dot``, safely and bounded.

Every name and text goes into DOT quoted (:mod:`.digraph`), every SVG comes out rebuilt from an
allow-list (:mod:`.sanitise`), ``dot`` runs under size and time limits (:mod:`.rendering`).
:mod:`.configured` applies this project's settings and caches definition graphs (:mod:`.cache`);
the other modules do not need Django.
"""

from selinon_django.graph.building import STATE_COLOURS, UnknownFlowGraphError, flow_digraph
from selinon_django.graph.configured import configured_style, render_bounded, render_flow_graph
from selinon_django.graph.digraph import SafeDigraph, label_lines
from selinon_django.graph.errors import (
    GraphBeingDrawnError,
    GraphRenderError,
    GraphsDisabledError,
    GraphTimeoutError,
    GraphTooBigError,
    UnsafeSVGError,
)
from selinon_django.graph.labels import condition_lines, condition_text, edge_lines
from selinon_django.graph.rendering import FORMATS, XML_DECLARATION, find_dot, render
from selinon_django.graph.sanitise import sanitise_svg
from selinon_django.graph.style import (
    DEFAULT_STYLE,
    STYLE_KEYS,
    GraphStyleError,
    Style,
    load_style,
    merge_style,
    read_style_file,
    validate_style,
)

__all__ = [
    "DEFAULT_STYLE",
    "FORMATS",
    "STATE_COLOURS",
    "STYLE_KEYS",
    "XML_DECLARATION",
    "GraphBeingDrawnError",
    "GraphRenderError",
    "GraphStyleError",
    "GraphTimeoutError",
    "GraphTooBigError",
    "GraphsDisabledError",
    "SafeDigraph",
    "Style",
    "UnknownFlowGraphError",
    "UnsafeSVGError",
    "condition_lines",
    "condition_text",
    "configured_style",
    "edge_lines",
    "find_dot",
    "flow_digraph",
    "label_lines",
    "load_style",
    "merge_style",
    "read_style_file",
    "render",
    "render_bounded",
    "render_flow_graph",
    "sanitise_svg",
    "validate_style",
]
