"""A cache kept in Django's cache framework, so several worker processes (or hosts, with
Redis/Memcached behind Django) share what one of them already read from a storage."""
from __future__ import annotations

import hashlib
from typing import Any

from selinon_django.caches.base import Cache, CacheMissError

_MISSING = object()
# memcached refuses keys longer than 250 bytes or with control characters/spaces
_MAX_PLAIN_KEY = 200


class DjangoCache(Cache):
    """``alias`` names a ``CACHES`` entry; ``timeout`` in seconds (None: the alias's default)."""

    def __init__(self, alias: str = "default", timeout: float | None = None, key_prefix: str = "selinon") -> None:
        self.alias = alias
        self.timeout = timeout
        self.key_prefix = key_prefix

    @property
    def backend(self) -> Any:
        # looked up on each use: django.core.cache.caches is per thread
        from django.core.cache import caches

        return caches[self.alias]

    def make_key(self, item_id: str) -> str:
        key = f"{self.key_prefix}:{item_id}"
        if len(key) > _MAX_PLAIN_KEY or any(c.isspace() or ord(c) < 33 for c in key):
            key = f"{self.key_prefix}:sha256:{hashlib.sha256(str(item_id).encode()).hexdigest()}"
        return key

    def add(self, item_id: str, item: Any, task_name: str | None = None, flow_name: str | None = None) -> None:
        if self.timeout is None:
            self.backend.set(self.make_key(item_id), item)
        else:
            self.backend.set(self.make_key(item_id), item, timeout=self.timeout)

    def get(self, item_id: str, task_name: str | None = None, flow_name: str | None = None) -> Any:
        value = self.backend.get(self.make_key(item_id), _MISSING)
        if value is _MISSING:
            raise CacheMissError(item_id)
        return value
