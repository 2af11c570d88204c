"""The run store of each database (see :mod:`~selinon_django.runtime.store.base`).

:func:`run_store` is the one place that looks at which database a connection talks to. The
PostgreSQL store is imported by its dotted path, as Django loads a database backend: it needs
psycopg, which a project on SQLite need not install.
"""
from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.module_loading import import_string

from selinon_django.runtime.store.base import Claim, FanIn, GuardFailed, RunStore

__all__ = ["Claim", "FanIn", "GuardFailed", "RunStore", "run_store"]

#: the store of each database vendor (Django's ``connection.vendor``) that has its own; every
#: other database gets the generic :class:`RunStore`
STORES = {"postgresql": "selinon_django.runtime.store.postgresql.PostgresRunStore"}

_stores: dict[str, RunStore] = {}


def run_store(db: Any = None) -> RunStore:
    """The store of ``db`` (a connection; by default the default database's), one per vendor."""
    vendor = (db if db is not None else connections[DEFAULT_DB_ALIAS]).vendor
    store = _stores.get(vendor)
    if store is None:
        path = STORES.get(vendor)
        store = import_string(path)() if path is not None else RunStore()
        _stores[vendor] = store
    return store
