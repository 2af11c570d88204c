"""Python objects named in YAML: Selinon's own modules resolve to this app's equivalents.

Existing Selinon YAML names ``selinon.predicates``, ``selinon.storages.memory`` and so on; this
project never depends on the ``selinon`` package, so those names are rewritten when the YAML is
parsed (Selinon's MongoDB, SQL and S3 storages included: their modules here need the ``[mongo]``,
``[sql]`` and ``[s3]`` extras). Names with no equivalent here stay as written; ``check_imports``
then reports them. Nothing is imported at load time except by
:func:`import_object`, which only ``check_imports`` (and the runtime) call.
"""
from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

__all__ = [
    "DEFAULT_PREDICATES_MODULE",
    "DEFAULT_STRATEGIES_MODULE",
    "allowed_import",
    "import_object",
    "resolve_class",
    "resolve_module",
]

DEFAULT_PREDICATES_MODULE = "selinon_django.predicates"
DEFAULT_STRATEGIES_MODULE = "selinon_django.strategies"
APP_PREFIX = "selinon_django"

#: whole-module renames (the object names inside stay the same)
MODULE_ALIASES: dict[str, str] = {
    "selinon.predicates": DEFAULT_PREDICATES_MODULE,
    "selinon.strategies": DEFAULT_STRATEGIES_MODULE,
    "selinon.routines": "selinon_django.routines",
    "selinon.caches.fifo": "selinon_django.caches.fifo",
    "selinon.caches.lifo": "selinon_django.caches.lifo",
    "selinon.caches.lru": "selinon_django.caches.lru",
    "selinon.caches.mru": "selinon_django.caches.mru",
    "selinon.caches.rr": "selinon_django.caches.rr",
}

#: (module, class) renames: Selinon's storage adapters whose counterparts here have other names
CLASS_ALIASES: dict[tuple[str, str], tuple[str, str]] = {
    ("selinon.storages.memory", "InMemoryStorage"): ("selinon_django.storages.memory", "InMemoryStorage"),
    ("selinon.storages.redis", "Redis"): ("selinon_django.storages.redis", "RedisStorage"),
    ("selinon.storages.filesystem", "Filesystem"): ("selinon_django.storages.filesystem", "FilesystemStorage"),
    ("selinon.storages.s3", "S3"): ("selinon_django.storages.s3", "S3"),
    # the class name the example in Selinon's documentation uses
    ("selinon.storages.s3", "S3Storage"): ("selinon_django.storages.s3", "S3"),
    ("selinon.storages.postgresql", "PostgreSQL"): ("selinon_django.storages.sql", "SqlStorage"),
    ("selinon.storages.postgresql.adapter", "PostgreSQL"): ("selinon_django.storages.sql", "SqlStorage"),
    ("selinon.storages.postgresql", "SqlStorage"): ("selinon_django.storages.sql", "SqlStorage"),
    ("selinon.storages.mongodb", "MongoDB"): ("selinon_django.storages.mongo", "MongoDB"),
    **{
        ("selinon.caches", cls): (f"selinon_django.caches.{cls.lower()}", cls)
        for cls in ("FIFO", "LIFO", "LRU", "MRU", "RR")
    },
}


def resolve_module(module: str) -> str:
    """A module name with Selinon's own modules replaced by this app's."""
    return MODULE_ALIASES.get(module, module)


def resolve_class(module: str, classname: str) -> tuple[str, str]:
    """``(module, class)`` of a storage or cache with Selinon's adapters replaced by this app's."""
    if (module, classname) in CLASS_ALIASES:
        return CLASS_ALIASES[(module, classname)]
    return resolve_module(module), classname


def import_object(module: str, name: str) -> Any:
    """``from module import name``; ImportError/AttributeError propagate to the caller."""
    return getattr(importlib.import_module(module), name)


def allowed_import(module: str, prefixes: Sequence[str]) -> bool:
    """Whether ``module`` lies under one of ``prefixes`` (package boundaries respected).

    ``"myapp"`` allows ``myapp`` and ``myapp.tasks`` but not ``myapplication``; a prefix ending
    in ``.`` matches by plain string prefix. Which of this app's own modules a configuration may
    name is decided by :mod:`selinon_django.config.trust`, by the kind of object.
    """
    for prefix in prefixes:
        if prefix.endswith("."):
            if module.startswith(prefix):
                return True
        elif module == prefix or module.startswith(prefix + "."):
            return True
    return False
