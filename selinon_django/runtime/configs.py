"""The configuration a run is pinned to, rebuilt once per process per revision."""
from __future__ import annotations

import threading
from collections import OrderedDict

from selinon_django.config.model import SystemConfig
from selinon_django.errors import UnknownFlowError
from selinon_django.models.definitions import ConfigRevision

_cache: OrderedDict[int, SystemConfig] = OrderedDict()
_lock = threading.Lock()
_SIZE = 16


def config_for(revision_id: int) -> SystemConfig:
    """The :class:`SystemConfig` of revision ``revision_id`` (revisions never change).

    Keyed by id so a hop costs no query for the revision row; ``system_config()`` carries the
    source paths that relative ``output_schema`` paths resolve against.
    """
    with _lock:
        config = _cache.get(revision_id)
        if config is not None:
            _cache.move_to_end(revision_id)
            return config
    config = ConfigRevision.objects.get(pk=revision_id).system_config()
    with _lock:
        _cache[revision_id] = config
        while len(_cache) > _SIZE:
            _cache.popitem(last=False)
    return config


def cached_config(revision_id: int) -> SystemConfig | None:
    """The configuration of ``revision_id`` if this process has it already (None: it would take
    a query - for a caller that cannot reach the database)."""
    with _lock:
        return _cache.get(revision_id)


def current_config() -> SystemConfig:
    """The configuration of the current (newest) revision: what code outside a task sees when it
    calls Selinon's class-level ``StoragePool`` methods (one query for the revision's id)."""
    revision = ConfigRevision.objects.current()
    if revision is None:
        raise UnknownFlowError("no configuration is loaded (run manage.py selinon_load first)")
    return config_for(revision.pk)


def forget_configs() -> None:
    """Drop this process's cached configurations (tests whose database reuses revision ids)."""
    with _lock:
        _cache.clear()
