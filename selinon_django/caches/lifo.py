"""Last-In-First-Out: when full, the item added most recently leaves (older items stay)."""
from __future__ import annotations

from selinon_django.caches.fifo import FIFO


class LIFO(FIFO):
    def _evict(self) -> None:
        self._items.popitem(last=True)
