"""Why a graph was not drawn: each reason its own class, so a page can say which one."""

from __future__ import annotations


class GraphRenderError(RuntimeError):
    """The graph could not be rendered (unknown format, no ``dot`` program, ``dot`` failed)."""


class GraphTooBigError(GraphRenderError):
    """The graph has more nodes or edges than the settings allow ``dot`` to lay out."""

    def __init__(self, what: str, count: int, limit: int) -> None:
        super().__init__(f"graph too big to draw ({count} {what}, limit {limit})")
        self.what = what
        self.count = count
        self.limit = limit


class GraphTimeoutError(GraphRenderError):
    """``dot`` did not finish within the time the settings allow it."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"graph not drawn: dot took longer than {seconds:g} s")
        self.seconds = seconds


class UnsafeSVGError(GraphRenderError):
    """The SVG could not be parsed as the plain drawing it should be (nothing of it is shown)."""


class GraphBeingDrawnError(GraphRenderError):
    """Another process is drawing this graph right now; it will be in the cache shortly."""

    def __init__(self) -> None:
        super().__init__("the graph is being drawn by another request: reload in a few seconds")


class GraphsDisabledError(GraphRenderError):
    """``SELINON_DJANGO['GRAPHS_ENABLED']`` is False."""

    def __init__(self) -> None:
        super().__init__("graphs are disabled (SELINON_DJANGO['GRAPHS_ENABLED'] is False)")
