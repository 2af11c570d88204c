"""Inline SVG for admin pages: a graphviz drawing with its XML prologue cut off.

Definition graphs never change (revisions are immutable), so they are kept per process; a run's
graph changes with its node states and is drawn on demand. When ``dot`` is missing or graphs are
off the page shows why instead of failing.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping

import graphviz
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from selinon_django.conf import selinon_settings
from selinon_django.config.model import SystemConfig
from selinon_django.graph import GraphRenderError, configured_style, flow_digraph, render

_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)
_SIZE = re.compile(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"')


def svg_markup(digraph: graphviz.Digraph) -> SafeString:
    """The drawing as an inline ``<svg>`` that scales down to its container (or a notice)."""
    conf = selinon_settings()
    if not conf.GRAPHS_ENABLED:
        return format_html('<p class="selinon-notice">{}</p>', "Graphs are disabled (GRAPHS_ENABLED is False).")
    try:
        svg = render(digraph, "svg", dot_program=conf.DOT_PROGRAM).decode("utf-8")
    except GraphRenderError as error:
        return format_html('<p class="selinon-notice">Graph not drawn: {}</p>', str(error))
    svg = _PROLOGUE.sub("", svg, count=1)
    # Keep the natural size as a maximum; CSS lets it shrink on a narrow screen.
    svg = _SIZE.sub(
        lambda m: (
            f'<svg class="selinon-svg" style="max-width:{m.group(1)}pt" width="{m.group(1)}pt" height="{m.group(2)}pt"'
        ),
        svg,
        count=1,
    )
    return mark_safe(svg)


_DEFINITION_CACHE: OrderedDict[tuple[int, str, str], str] = OrderedDict()
_DEFINITION_CACHE_SIZE = 256


def definition_svg(revision_key: tuple[int, str], config: SystemConfig, flow_name: str) -> SafeString:
    """A flow of a revision as stored (kept per process: the revision never changes)."""
    key = (*revision_key, flow_name)
    cached = _DEFINITION_CACHE.get(key)
    if cached is None:
        digraph = flow_digraph(config, flow_name, style=configured_style())
        digraph.graph_attr["bgcolor"] = "transparent"
        cached = str(svg_markup(digraph))
        _DEFINITION_CACHE[key] = cached
        while len(_DEFINITION_CACHE) > _DEFINITION_CACHE_SIZE:
            _DEFINITION_CACHE.popitem(last=False)
    return mark_safe(cached)


def run_svg(
    config: SystemConfig,
    flow_name: str,
    node_states: Mapping[str, str],
    node_attributes: Mapping[str, Mapping[str, str]],
) -> SafeString:
    """A flow coloured by its run's node states, with ids and links per node."""
    digraph = flow_digraph(
        config, flow_name, style=configured_style(), node_states=node_states, node_attributes=node_attributes
    )
    digraph.graph_attr["bgcolor"] = "transparent"
    return svg_markup(digraph)
