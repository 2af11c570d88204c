"""Caches for task results (per storage) and node states (per flow): Selinon's FIFO, LIFO,
LRU, MRU, RR, and one backed by Django's cache framework."""
from __future__ import annotations

import importlib
from typing import Any

from selinon_django.caches.base import BoundedCache, Cache, CacheMissError
from selinon_django.config.model import CacheConfig

__all__ = ["BoundedCache", "Cache", "CacheMissError", "build_cache"]


def _module_name(module: str) -> str:
    # Selinon's own module names (``selinon.caches.lru``) name this package's equivalents
    if module == "selinon" or module.startswith("selinon."):
        return "selinon_django" + module[len("selinon") :]
    return module


def build_cache(cache_config: CacheConfig) -> Cache:
    """A new cache instance from a ``cache:`` entry (configuration values as keyword arguments)."""
    cls: Any = getattr(importlib.import_module(_module_name(cache_config.module)), cache_config.name)
    cache: Cache = cls(**dict(cache_config.configuration))
    # duck-typed: a cache written for Selinon (without our base class) works as it is
    if not (callable(getattr(cache, "add", None)) and callable(getattr(cache, "get", None))):
        raise TypeError(f"{cache_config.module}.{cache_config.name} has no add()/get(): not a cache")
    return cache
