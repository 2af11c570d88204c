"""Least-Recently-Used: when full, the item nobody touched for the longest time leaves."""
from __future__ import annotations

from typing import Any

from selinon_django.caches.fifo import FIFO


class LRU(FIFO):
    """Adding and reading both count as a use (they move the item to the recent end)."""

    def _update(self, item_id: str, item: Any) -> None:
        self._items[item_id] = item
        self._items.move_to_end(item_id)

    def _lookup(self, item_id: str) -> Any:
        self._items.move_to_end(item_id)
        return self._items[item_id]
