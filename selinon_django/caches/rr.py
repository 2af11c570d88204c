"""Random Replacement: when full, a random item leaves (no bookkeeping per access)."""
from __future__ import annotations

import random
from typing import Any

from selinon_django.caches.base import BoundedCache


class RR(BoundedCache):
    """``seed`` makes the victims reproducible (tests); by default they are truly random."""

    def __init__(self, max_cache_size: int = 0, seed: int | None = None) -> None:
        super().__init__(max_cache_size)
        self._items: dict[str, Any] = {}
        self._ids: list[str] = []  # for O(1) random choice
        self._random = random.Random(seed)

    def _size(self) -> int:
        return len(self._items)

    def _contains(self, item_id: str) -> bool:
        return item_id in self._items

    def _insert(self, item_id: str, item: Any) -> None:
        self._items[item_id] = item
        self._ids.append(item_id)

    def _update(self, item_id: str, item: Any) -> None:
        self._items[item_id] = item

    def _lookup(self, item_id: str) -> Any:
        return self._items[item_id]

    def _evict(self) -> None:
        index = self._random.randrange(len(self._ids))
        self._ids[index], self._ids[-1] = self._ids[-1], self._ids[index]
        del self._items[self._ids.pop()]
