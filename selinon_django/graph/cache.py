"""Drawn definition graphs in Django's cache, shared by every web process that shares the cache.

A revision never changes, so a flow's drawing is kept under a key made of the revision's id and
content hash, the flow name and a fingerprint of everything else that shapes the picture (format,
style, ``dot`` program, limits). A drawing that failed (``dot`` timed out, the graph is too big,
the SVG was refused) is kept as failed for :data:`FAILURE_SECONDS`, so a viewer who reloads, or
many viewers at once, cannot make the server run ``dot`` on it again and again; while one process
draws a graph, the others say so instead of starting ``dot`` themselves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches

from selinon_django.graph.errors import GraphBeingDrawnError, GraphRenderError, GraphTooBigError

#: a drawing of an immutable revision stays this long (it is evicted earlier if the cache is full)
DRAWING_SECONDS = 7 * 24 * 3600
#: a failed drawing is not tried again for this long
FAILURE_SECONDS = 300
#: bumped when what is cached changes shape (for example the sanitiser's output)
_VERSION = "v1"

RevisionKey = tuple[int, str]
"""(revision primary key, content hash): names one immutable revision."""


def drawing_key(revision: RevisionKey, flow_name: str, fingerprint: Mapping[str, Any]) -> str:
    """A cache key safe for every backend (ASCII, no spaces, well under memcached's 250 bytes).

    The content hash is the revision's own (64 hex digits); the flow name and the rest go in as
    a digest, since a name may hold anything.
    """
    pk, content_hash = revision
    details = json.dumps([flow_name, fingerprint], sort_keys=True, default=str)
    digest = hashlib.sha256(details.encode("utf-8")).hexdigest()
    return f"selinon_django:graph:{_VERSION}:{int(pk)}:{content_hash}:{digest}"


@dataclass(frozen=True)
class DrawingCache:
    """The drawings of one cache alias (``SELINON_DJANGO['GRAPH_CACHE']``)."""

    alias: str

    def raise_failure(self, key: str) -> None:
        """Raise the failure kept under ``key``, if there is one (a run graph checks this first)."""
        entry = caches[self.alias].get(key)
        if isinstance(entry, tuple) and entry and entry[0] == "failed":
            raise GraphRenderError(str(entry[1]))

    def drawing(self, key: str, draw: Callable[[], bytes], *, lock_seconds: float) -> bytes:
        """The drawing under ``key``, drawn by ``draw`` when it is not there yet.

        ``lock_seconds`` is how long a process may take to draw it (the render timeout and some
        slack); another process asking meanwhile gets :class:`GraphBeingDrawnError`.
        """
        cache = caches[self.alias]
        entry = cache.get(key)
        if isinstance(entry, tuple) and len(entry) == 2:
            if entry[0] == "ok" and isinstance(entry[1], bytes):
                return entry[1]
            if entry[0] == "failed":
                raise GraphRenderError(str(entry[1]))
        lock = f"{key}:drawing"
        if not cache.add(lock, True, timeout=max(1, int(lock_seconds) + 1)):
            raise GraphBeingDrawnError()
        try:
            try:
                picture = draw()
            except GraphTooBigError as error:
                # the same revision, flow and limits are always too big: keep that as long as a drawing
                cache.set(key, ("failed", str(error)), timeout=DRAWING_SECONDS)
                raise
            except GraphRenderError as error:
                self.remember_failure(key, error)
                raise
            cache.set(key, ("ok", picture), timeout=DRAWING_SECONDS)
            return picture
        finally:
            cache.delete(lock)

    def remember_failure(self, key: str, error: GraphRenderError) -> None:
        """Keep ``error`` under ``key`` for :data:`FAILURE_SECONDS`."""
        caches[self.alias].set(key, ("failed", str(error)), timeout=FAILURE_SECONDS)
