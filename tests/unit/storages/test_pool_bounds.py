"""StoragePool keeps the pools of at most ``max_pools`` revisions (least recently used forgotten
first), without reconnecting the adapter of a storage that every revision defines alike."""
from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest

from selinon_django.config.model import SystemConfig
from selinon_django.storages.memory import InMemoryStorage
from selinon_django.storages.pool import StoragePool
from tests.unit.storages.helpers import cache, make_config, storage, task

HERE = __name__


class ConnectCounting(InMemoryStorage):
    """Counts this adapter's connects and disconnects."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.connects = 0
        self.disconnects = 0

    def connect(self) -> None:
        self.connects += 1
        super().connect()

    def disconnect(self) -> None:
        self.disconnects += 1
        super().disconnect()


def revision(number: int) -> SystemConfig:
    """Every revision: the same "Shared" storage (with a cache), and one storage of its own."""
    lru = cache("LRU", "selinon_django.caches.lru", max_cache_size=3)
    shared = storage("Shared", HERE, "ConnectCounting", cache=lru)
    own = storage(f"Own{number}", HERE, "ConnectCounting")
    return make_config(tasks=[task("T", "Shared"), task(f"Mine{number}", f"Own{number}")], storages=[shared, own])


@pytest.fixture()
def two_pools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(StoragePool, "max_pools", 2)


@pytest.mark.usefixtures("two_pools")
def test_the_least_recently_used_revision_is_forgotten_with_what_only_it_defined() -> None:
    configs = [revision(number) for number in range(3)]
    first, second = StoragePool.for_config(configs[0]), StoragePool.for_config(configs[1])
    shared = first.get_connected_storage("Shared")
    assert second.get_connected_storage("Shared") is shared
    shared_cache = second.result_cache("T")
    own_of_second = second.get_connected_storage("Own1")
    assert StoragePool.for_config(configs[0]) is first  # revision 0 used again: revision 1 is the oldest

    third = StoragePool.for_config(configs[2])

    assert StoragePool.for_config(configs[0]) is first
    assert third.get_connected_storage("Shared") is shared and shared.connects == 1 and shared.disconnects == 0
    assert third.result_cache("T") is shared_cache
    assert own_of_second.disconnects == 1  # only the forgotten revision defined it
    assert first.get_connected_storage("Own0").connects == 1
    again = StoragePool.for_config(configs[1])
    assert again is not second
    assert again.get_connected_storage("Own1") is not own_of_second


@pytest.mark.usefixtures("two_pools")
def test_a_worker_seeing_many_revisions_keeps_a_bounded_number_of_pools() -> None:
    first_config = revision(0)
    first = weakref.ref(StoragePool.for_config(first_config))
    config_ref = weakref.ref(first_config)
    shared = StoragePool.for_config(first_config).get_connected_storage("Shared")
    del first_config
    for number in range(1, 20):
        pool = StoragePool.for_config(revision(number))
        assert pool.get_connected_storage("Shared") is shared
    gc.collect()
    assert first() is None and config_ref() is None  # nothing of revision 0 is held any more
    assert shared.connects == 1
