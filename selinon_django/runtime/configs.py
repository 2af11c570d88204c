"""The configuration a run is pinned to, rebuilt once per process per revision."""
from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict

from selinon_django.config.model import SourceFile, SystemConfig
from selinon_django.models.definitions import ConfigRevision, ConfigSource

_cache: OrderedDict[int, SystemConfig] = OrderedDict()
_lock = threading.Lock()
_SIZE = 16


def config_for(revision_id: int) -> SystemConfig:
    """The :class:`SystemConfig` of revision ``revision_id`` (revisions never change)."""
    with _lock:
        config = _cache.get(revision_id)
        if config is not None:
            _cache.move_to_end(revision_id)
            return config
    revision = ConfigRevision.objects.get(pk=revision_id)
    config = with_source_paths(revision, revision.system_config())
    with _lock:
        _cache[revision_id] = config
        while len(_cache) > _SIZE:
            _cache.popitem(last=False)
    return config


def with_source_paths(revision: ConfigRevision, config: SystemConfig) -> SystemConfig:
    """The config with the revision's source files as loaded (not the normalised document).

    Tasks resolve relative ``output_schema`` paths against the folders of the YAML files; a
    config rebuilt from ``normalised`` only knows a synthetic file name, so the stored
    :class:`ConfigSource` rows put the real paths back.
    """
    sources = tuple(
        SourceFile(path=row.path, role=row.role, text=row.text)  # type: ignore[arg-type]
        for row in ConfigSource.objects.filter(revision=revision).order_by("order")
    )
    return dataclasses.replace(config, sources=sources) if sources else config
