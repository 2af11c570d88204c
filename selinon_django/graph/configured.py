"""Graphs as this project's settings configure them: style, ``dot`` program, limits, cache.

The admin, the API and ``selinon_plot`` draw through this module, so they draw the same pictures
under the same bounds: at most ``GRAPH_MAX_NODES`` nodes and ``GRAPH_MAX_EDGES`` edges,
``dot`` stopped after ``GRAPH_RENDER_TIMEOUT`` seconds. A definition graph (a flow of a revision,
no run on it) is drawn once per revision and kept in the ``GRAPH_CACHE`` cache; a run's graph
changes with its node states, so it is drawn every time, but not while the same flow's graph has
just failed.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from selinon_django.conf import selinon_settings
from selinon_django.config.model import SystemConfig
from selinon_django.graph.building import flow_digraph
from selinon_django.graph.cache import DrawingCache, RevisionKey, drawing_key
from selinon_django.graph.digraph import SafeDigraph
from selinon_django.graph.errors import GraphsDisabledError, GraphTimeoutError
from selinon_django.graph.rendering import render
from selinon_django.graph.style import Style, merge_style, read_style_file, validate_style

#: a drawing process holds the cache's "being drawn" mark this much longer than dot may run
_LOCK_SLACK_SECONDS = 5


def configured_style(*extra: Mapping[str, object] | None) -> Style:
    """Defaults, then ``SELINON_DJANGO['GRAPH_STYLE']``, then ``extra`` overrides."""
    configured = selinon_settings().GRAPH_STYLE
    base = read_style_file(configured) if isinstance(configured, str) else validate_style(configured)
    return merge_style(base, *extra)


def render_bounded(digraph: SafeDigraph, fmt: str = "svg") -> bytes:
    """``digraph`` drawn with the configured ``dot``, size limits and timeout (never cached)."""
    conf = selinon_settings()
    if not conf.GRAPHS_ENABLED:
        raise GraphsDisabledError()
    return render(
        digraph,
        fmt,
        dot_program=conf.DOT_PROGRAM,
        timeout=conf.GRAPH_RENDER_TIMEOUT,
        max_nodes=conf.GRAPH_MAX_NODES,
        max_edges=conf.GRAPH_MAX_EDGES,
    )


def render_flow_graph(
    config: SystemConfig,
    flow_name: str,
    fmt: str = "svg",
    node_states: Mapping[str, str] | None = None,
    *,
    node_attributes: Mapping[str, Mapping[str, str]] | None = None,
    revision: RevisionKey | None = None,
    extra_style: Mapping[str, object] | None = None,
) -> bytes:
    """One flow drawn with the configured style, ``dot`` program and bounds.

    With ``revision`` (the ``(pk, content_hash)`` of the revision ``config`` came from) a
    definition graph is cached, and a run graph (``node_states`` or ``node_attributes`` given)
    is not drawn while that flow's drawing is recorded as failed; a timeout of a run graph is
    recorded the same way. Raises ``GraphRenderError`` (or a subclass saying why).
    """
    conf = selinon_settings()
    if not conf.GRAPHS_ENABLED:
        raise GraphsDisabledError()
    style = configured_style(extra_style)

    def draw() -> bytes:
        digraph = flow_digraph(
            config, flow_name, style=style, node_states=node_states, node_attributes=node_attributes
        )
        return render_bounded(digraph, fmt)

    if revision is None:
        return draw()
    cache = DrawingCache(conf.GRAPH_CACHE)
    key = drawing_key(revision, flow_name, _fingerprint(fmt, style))
    if node_states is None and node_attributes is None:
        return cache.drawing(key, draw, lock_seconds=conf.GRAPH_RENDER_TIMEOUT + _LOCK_SLACK_SECONDS)
    cache.raise_failure(key)
    try:
        return draw()
    except GraphTimeoutError as error:
        cache.remember_failure(key, error)
        raise


def _fingerprint(fmt: str, style: Style) -> dict[str, Any]:
    """Everything besides the revision and flow that changes a drawing or whether it is drawn."""
    conf = selinon_settings()
    return {
        "format": fmt,
        "style": style,
        "dot": conf.DOT_PROGRAM,
        "max_nodes": conf.GRAPH_MAX_NODES,
        "max_edges": conf.GRAPH_MAX_EDGES,
        "timeout": conf.GRAPH_RENDER_TIMEOUT,
    }
