"""Running graphviz's ``dot`` on a graph, bounded in size and time; SVG comes out sanitised.

A big flow can keep ``dot`` busy for a minute, so a caller may pass limits: a graph with more
nodes or edges than allowed is refused before ``dot`` starts (:class:`GraphTooBigError`), and
``dot`` is killed when it runs longer than ``timeout`` seconds (:class:`GraphTimeoutError`).
Every SVG is rebuilt by :func:`~selinon_django.graph.sanitise.sanitise_svg`, whoever asked for
it (admin, API, ``selinon_plot``), so no path hands out graphviz's output unchecked.
"""

from __future__ import annotations

import shutil
import subprocess

import graphviz

from selinon_django.graph.digraph import SafeDigraph
from selinon_django.graph.errors import GraphRenderError, GraphTimeoutError, GraphTooBigError
from selinon_django.graph.sanitise import sanitise_svg

#: output formats ``dot -T`` accepts, as the graphviz package knows them
FORMATS: frozenset[str] = frozenset(graphviz.FORMATS)

#: the prologue of a sanitised SVG document (an inlined one leaves it off)
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

__all__ = ["FORMATS", "XML_DECLARATION", "GraphRenderError", "check_size", "find_dot", "render"]


def find_dot(dot_program: str | None = None) -> str | None:
    """The path of the ``dot`` program to run, or None when there is none."""
    if dot_program:
        return shutil.which(dot_program)
    return shutil.which("dot")


def check_size(digraph: SafeDigraph, *, max_nodes: int | None = None, max_edges: int | None = None) -> None:
    """Raise :class:`GraphTooBigError` when the graph is bigger than the limits (None: no limit)."""
    if max_nodes is not None and digraph.node_count > max_nodes:
        raise GraphTooBigError("nodes", digraph.node_count, max_nodes)
    if max_edges is not None and digraph.edge_count > max_edges:
        raise GraphTooBigError("edges", digraph.edge_count, max_edges)


def render(
    digraph: SafeDigraph,
    fmt: str,
    *,
    dot_program: str | None = None,
    timeout: float = 120,
    max_nodes: int | None = None,
    max_edges: int | None = None,
) -> bytes:
    """The graph drawn in ``fmt`` (svg, png, pdf, dot...); an SVG is a sanitised document."""
    if fmt not in FORMATS:
        raise GraphRenderError(f"unknown graph format {fmt!r} (for example: svg, png, pdf, dot)")
    check_size(digraph, max_nodes=max_nodes, max_edges=max_edges)
    program = find_dot(dot_program)
    if program is None:
        wanted = dot_program or "dot"
        raise GraphRenderError(f"graphviz program {wanted!r} not found: install graphviz or set DOT_PROGRAM")
    try:
        completed = subprocess.run(
            [program, f"-T{fmt}"],
            input=digraph.source.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GraphTimeoutError(timeout) from None  # run() has killed dot already
    except OSError as exc:
        raise GraphRenderError(f"running {program} failed: {exc}") from exc
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip()
        raise GraphRenderError(f"{program} -T{fmt} failed: {message}")
    if fmt == "svg":
        return XML_DECLARATION + sanitise_svg(completed.stdout).encode("utf-8")
    return completed.stdout
