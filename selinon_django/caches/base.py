"""The cache interface Selinon defines, and the error a miss raises.

A miss raises instead of returning None because None is a legitimate task result.
"""
from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any

from selinon_django.errors import SelinonDjangoError


class CacheMissError(SelinonDjangoError, KeyError):
    """The requested item is not in the cache."""


class Cache(ABC):
    """Base class: ``add`` and ``get`` with Selinon's signatures.

    ``task_name`` and ``flow_name`` are there so a cache can decide per task what it keeps; they
    are unused when the cache holds node states.
    """

    @abstractmethod
    def add(self, item_id: str, item: Any, task_name: str | None = None, flow_name: str | None = None) -> None:
        """Keep ``item`` under ``item_id`` (replacing what was there)."""

    @abstractmethod
    def get(self, item_id: str, task_name: str | None = None, flow_name: str | None = None) -> Any:
        """The item kept under ``item_id``; :class:`CacheMissError` when there is none."""


class BoundedCache(Cache):
    """An in-process cache of at most ``max_cache_size`` items; subclasses choose the victim.

    Size 0 keeps nothing, which is Selinon's default (no cache). All operations hold one lock:
    the dispatcher and tasks of a threaded worker share the instance.
    """

    def __init__(self, max_cache_size: int = 0) -> None:
        if not isinstance(max_cache_size, int) or isinstance(max_cache_size, bool) or max_cache_size < 0:
            raise ValueError(f"max_cache_size must be a non-negative integer, not {max_cache_size!r}")
        self.max_cache_size = max_cache_size
        self._lock = threading.Lock()

    @property
    def current_cache_size(self) -> int:
        with self._lock:
            return self._size()

    def __len__(self) -> int:
        return self.current_cache_size

    def add(self, item_id: str, item: Any, task_name: str | None = None, flow_name: str | None = None) -> None:
        if self.max_cache_size == 0:
            return
        with self._lock:
            if self._contains(item_id):
                self._update(item_id, item)
                return
            while self._size() >= self.max_cache_size:
                self._evict()
            self._insert(item_id, item)

    def get(self, item_id: str, task_name: str | None = None, flow_name: str | None = None) -> Any:
        with self._lock:
            if not self._contains(item_id):
                raise CacheMissError(item_id)
            return self._lookup(item_id)

    # --- what a policy implements (called with the lock held) ---

    @abstractmethod
    def _size(self) -> int: ...

    @abstractmethod
    def _contains(self, item_id: str) -> bool: ...

    @abstractmethod
    def _insert(self, item_id: str, item: Any) -> None: ...

    @abstractmethod
    def _update(self, item_id: str, item: Any) -> None: ...

    @abstractmethod
    def _lookup(self, item_id: str) -> Any: ...

    @abstractmethod
    def _evict(self) -> None: ...
