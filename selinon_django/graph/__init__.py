"""Flow graphs: build a graphviz digraph of a flow and render it with ``dot``.

No Django here: the admin, the API and ``selinon_plot`` pass in the configuration and settings.
"""

from selinon_django.graph.building import STATE_COLOURS, UnknownFlowGraphError, flow_digraph
from selinon_django.graph.configured import configured_style, render_flow_graph
from selinon_django.graph.labels import condition_lines, condition_text, edge_lines
from selinon_django.graph.rendering import FORMATS, GraphRenderError, find_dot, render
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
    "GraphRenderError",
    "GraphStyleError",
    "Style",
    "UnknownFlowGraphError",
    "condition_lines",
    "condition_text",
    "configured_style",
    "edge_lines",
    "find_dot",
    "flow_digraph",
    "load_style",
    "merge_style",
    "read_style_file",
    "render",
    "render_flow_graph",
    "validate_style",
]
