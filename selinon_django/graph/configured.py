"""Graphs as this project's settings configure them (style, ``dot`` program, on/off).

The rest of the package is Django-free; this module is the one bridge the admin, the API and
``selinon_plot`` share, so they draw the same pictures.
"""
from __future__ import annotations

from collections.abc import Mapping

from selinon_django.config.model import SystemConfig
from selinon_django.graph.building import flow_digraph
from selinon_django.graph.rendering import GraphRenderError, render
from selinon_django.graph.style import Style, merge_style, read_style_file, validate_style


def configured_style(*extra: Mapping[str, object] | None) -> Style:
    """Defaults, then ``SELINON_DJANGO['GRAPH_STYLE']``, then ``extra`` overrides."""
    from selinon_django.conf import selinon_settings

    configured = selinon_settings().GRAPH_STYLE
    base = read_style_file(configured) if isinstance(configured, str) else validate_style(configured)
    return merge_style(base, *extra)


def render_flow_graph(
    config: SystemConfig,
    flow_name: str,
    fmt: str = "svg",
    node_states: Mapping[str, str] | None = None,
) -> bytes:
    """One flow drawn with the configured style and ``dot`` program."""
    from selinon_django.conf import selinon_settings

    conf = selinon_settings()
    if not conf.GRAPHS_ENABLED:
        raise GraphRenderError("graphs are disabled (SELINON_DJANGO['GRAPHS_ENABLED'] is False)")
    digraph = flow_digraph(config, flow_name, style=configured_style(), node_states=node_states)
    return render(digraph, fmt, dot_program=conf.DOT_PROGRAM)
