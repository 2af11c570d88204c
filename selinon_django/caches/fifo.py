"""First-In-First-Out: when full, the item added longest ago leaves."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

from selinon_django.caches.base import BoundedCache


class FIFO(BoundedCache):
    """Insertion order decides; reading an item or re-adding it does not move it."""

    def __init__(self, max_cache_size: int = 0) -> None:
        super().__init__(max_cache_size)
        self._items: OrderedDict[str, Any] = OrderedDict()

    def _size(self) -> int:
        return len(self._items)

    def _contains(self, item_id: str) -> bool:
        return item_id in self._items

    def _insert(self, item_id: str, item: Any) -> None:
        self._items[item_id] = item

    def _update(self, item_id: str, item: Any) -> None:
        self._items[item_id] = item  # an existing key keeps its position in an OrderedDict

    def _lookup(self, item_id: str) -> Any:
        return self._items[item_id]

    def _evict(self) -> None:
        self._items.popitem(last=False)
