"""Most-Recently-Used: when full, the item used last leaves (good for scans over old data)."""
from __future__ import annotations

from selinon_django.caches.lru import LRU


class MRU(LRU):
    def _evict(self) -> None:
        self._items.popitem(last=True)
