"""Inline SVG for admin pages: a sanitised graphviz drawing, or a notice saying why there is none.

The markup comes from :mod:`selinon_django.graph`, which quotes every name from the (untrusted,
uploaded) configuration into DOT, bounds ``dot`` in size and time, and rebuilds the SVG from an
allow-list; only that rebuilt markup is marked safe here. Definition graphs are cached per
revision in Django's cache (revisions are immutable); a run's graph changes with its node states
and is drawn on demand. When ``dot`` is missing, too slow, the graph too big or graphs are off,
the page shows why instead of failing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from selinon_django.config.model import SystemConfig
from selinon_django.graph import XML_DECLARATION, GraphRenderError, SafeDigraph, render_bounded, render_flow_graph
from selinon_django.graph.cache import RevisionKey

#: drawn on the admin's own background
_INLINE_STYLE = {"graph": {"bgcolor": "transparent"}}
_WIDTH = re.compile(r'\A<svg [^>]*?\bwidth="([\d.]+)pt"')


def notice(error: GraphRenderError) -> SafeString:
    """The reason a graph is not shown, as a paragraph (escaped: it may quote a name)."""
    text = str(error)
    return format_html('<p class="selinon-notice">{}</p>', text[:1].upper() + text[1:])


def inline_svg(document: bytes) -> SafeString:
    """A sanitised SVG document (from ``selinon_django.graph``) as an inline ``<svg>`` that scales
    down to its container, its natural size kept as the maximum."""
    svg = document.removeprefix(XML_DECLARATION).decode("utf-8")
    width = _WIDTH.match(svg)
    extra = f' style="max-width:{width.group(1)}pt"' if width else ""
    # Only the sanitiser's output reaches this point: an <svg> element of allowed parts.
    return mark_safe(f'<svg class="selinon-svg"{extra} {svg.removeprefix("<svg ")}')


def svg_markup(digraph: SafeDigraph) -> SafeString:
    """Any digraph (for example a revision diff) drawn within the configured bounds, not cached."""
    try:
        return inline_svg(render_bounded(digraph, "svg"))
    except GraphRenderError as error:
        return notice(error)


def definition_svg(revision_key: RevisionKey, config: SystemConfig, flow_name: str) -> SafeString:
    """A flow of a revision as stored, cached per revision in the configured cache."""
    try:
        return inline_svg(render_flow_graph(config, flow_name, "svg", revision=revision_key, extra_style=_INLINE_STYLE))
    except GraphRenderError as error:
        return notice(error)


def run_svg(
    config: SystemConfig,
    flow_name: str,
    node_states: Mapping[str, str],
    node_attributes: Mapping[str, Mapping[str, str]],
    revision_key: RevisionKey | None = None,
) -> SafeString:
    """A flow coloured by its run's node states, with ids and links per node (never cached;
    not drawn while the flow's graph of that revision is recorded as too big or too slow)."""
    try:
        svg = render_flow_graph(
            config,
            flow_name,
            "svg",
            node_states,
            node_attributes=node_attributes,
            revision=revision_key,
            extra_style=_INLINE_STYLE,
        )
    except GraphRenderError as error:
        return notice(error)
    return inline_svg(svg)
