"""A graphviz digraph that quotes every identifier and value it is given, and counts its size.

Flow, task and storage names, condition and foreach texts and everything a run adds come from
uploaded configuration, which is hostile input. The graphviz package quotes a string only when it
is not a plain DOT identifier, and it passes a string that starts with ``<`` and ends with ``>``
through unquoted as an HTML-like label, so a flow named ``<a> { x [URL="javascript:..."] } <b>``
writes its own DOT statements. :class:`SafeDigraph` replaces the package's quoting for every
place a string reaches the DOT source (graph name, node and edge ids, labels, attribute values,
graph/node/edge attribute mappings): each value is literal text, backslashes doubled so no escape
sequence survives, always quoted, never HTML. Node ids must be plain identifiers (the builders
make them up, ``node0``, ``edge3``), so a ``:`` can never be read as a port. Attribute names must
be plain identifiers as well.

The only way to hand it text that already holds DOT escapes is :func:`label_lines`, which escapes
each line itself and joins them with DOT's ``\\n`` line break.

The digraph also counts the nodes and edges it was given, so a caller can refuse to run ``dot``
on a graph that is too big before spending seconds on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Any

import graphviz

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_NUMBER = re.compile(r"-?(\.[0-9]+|[0-9]+(\.[0-9]*)?)\Z")
#: control characters XML cannot hold (dot would copy them into an SVG no parser accepts)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: words DOT reads as keywords in any case, so they are never written bare
_KEYWORDS = frozenset({"node", "edge", "graph", "digraph", "subgraph", "strict"})


class DotEscaped(str):
    """Text whose backslashes are already DOT escapes (made only by :func:`label_lines`)."""

    __slots__ = ()


def label_lines(*lines: str) -> DotEscaped:
    """Lines of literal text as one DOT label, a line break (``\\n``) between them."""
    return DotEscaped("\\n".join(str(line).replace("\\", "\\\\") for line in lines))


def _is_bare_word(text: str) -> bool:
    return bool(_IDENTIFIER.match(text)) and text.lower() not in _KEYWORDS


def quote_text(value: object) -> str:
    """``value`` as DOT text: a bare word when it is a plain identifier, else a quoted string.

    Never an HTML label. Backslashes are doubled (unless the value came from
    :func:`label_lines`, which doubled them itself), then every ``"`` is escaped, so the quoted
    string ends where we end it and no ``\\N``/``\\G`` escape expands. Control characters
    become U+FFFD.
    """
    text = _CONTROL.sub("\ufffd", str(value))
    if _is_bare_word(text) or _NUMBER.match(text):
        return text
    if not isinstance(value, DotEscaped):
        text = text.replace("\\", "\\\\")
    # Every backslash run is now even (a DotEscaped label holds only doubled backslashes and
    # our own \\n), so the backslash put before a quote escapes exactly that quote.
    return '"' + text.replace('"', '\\"') + '"'


def _identifier(name: object, what: str) -> str:
    text = str(name)
    if not _is_bare_word(text):
        raise ValueError(f"{what} must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*, no keyword), not {text!r}")
    return text


def _items(mapping: Any) -> Iterable[tuple[Any, Any]]:
    # as the graphviz package orders them: a plain dict sorted, anything else as given
    if not mapping:
        return ()
    if hasattr(mapping, "items"):
        return sorted(mapping.items()) if type(mapping) is dict else mapping.items()
    return mapping


def a_list(label: object | None = None, kwargs: Mapping[str, Any] | None = None, attributes: Any = None) -> str:
    """``label="..." name="value" ...`` with every value quoted as literal text."""
    parts = [f"label={quote_text(label)}"] if label is not None else []
    parts.extend(
        f"{_identifier(name, 'a graphviz attribute name')}={quote_text(value)}"
        for name, value in (*_items(kwargs), *_items(attributes))
        if value is not None
    )
    return " ".join(parts)


def attr_list(label: object | None = None, kwargs: Mapping[str, Any] | None = None, attributes: Any = None) -> str:
    """`` [label="..." ...]`` (empty when there is nothing to say)."""
    content = a_list(label, kwargs, attributes)
    return f" [{content}]" if content else ""


def _quote_node_id(name: object) -> str:
    return _identifier(name, "a node id")


class SafeDigraph(graphviz.Digraph):
    """``graphviz.Digraph`` whose DOT source cannot be rewritten by the strings it is given."""

    # The package's own statements call these hooks for every identifier and attribute list.
    _quote = staticmethod(quote_text)
    _quote_edge = staticmethod(_quote_node_id)
    _a_list = staticmethod(a_list)
    _attr_list = staticmethod(attr_list)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        comment = kwargs.get("comment")
        if comment is not None and ("\n" in str(comment) or "\r" in str(comment)):
            raise ValueError("a graph comment is one line (a line break would end the // comment)")
        super().__init__(*args, **kwargs)
        self.node_count = 0
        self.edge_count = 0

    def node(self, name: str, label: str | None = None, _attributes: Any = None, **attrs: Any) -> None:
        super().node(_quote_node_id(name), label=label, _attributes=_attributes, **attrs)
        self.node_count += 1

    def edge(
        self, tail_name: str, head_name: str, label: str | None = None, _attributes: Any = None, **attrs: Any
    ) -> None:
        super().edge(tail_name, head_name, label=label, _attributes=_attributes, **attrs)
        self.edge_count += 1

    def edges(self, tail_head_iter: Iterable[tuple[str, str]]) -> None:
        for tail, head in tail_head_iter:
            self.edge(tail, head)

    def subgraph(self, graph: SafeDigraph | None = None, **kwargs: Any) -> AbstractContextManager[SafeDigraph] | None:
        """A subgraph is another SafeDigraph; its nodes and edges count towards this graph's size."""
        if graph is None:
            raise TypeError("SafeDigraph.subgraph() takes a SafeDigraph built beforehand, not a context manager")
        if not isinstance(graph, SafeDigraph):
            raise TypeError("a SafeDigraph only takes SafeDigraph subgraphs (anything else is quoted unsafely)")
        super().subgraph(graph, **kwargs)
        self.node_count += graph.node_count
        self.edge_count += graph.edge_count
        return None
