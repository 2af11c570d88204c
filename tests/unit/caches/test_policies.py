"""Eviction order of each in-process cache policy, misses, and thread safety."""
from __future__ import annotations

import threading

import pytest

from selinon_django.caches import build_cache
from selinon_django.caches.base import BoundedCache, CacheMissError
from selinon_django.caches.fifo import FIFO
from selinon_django.caches.lifo import LIFO
from selinon_django.caches.lru import LRU
from selinon_django.caches.mru import MRU
from selinon_django.caches.rr import RR
from tests.unit.storages.helpers import cache


def present(c: BoundedCache, ids: str) -> str:
    """The ids (one letter each) the cache still holds, checked without LRU side effects."""
    return "".join(i for i in ids if i in c._items)  # type: ignore[attr-defined]


def fill(c: BoundedCache, ids: str) -> None:
    for i in ids:
        c.add(i, i.upper())


def test_fifo_evicts_the_oldest_insert() -> None:
    c = FIFO(max_cache_size=3)
    fill(c, "abc")
    assert c.get("a") == "A"  # reading does not protect in FIFO
    c.add("d", "D")
    assert present(c, "abcd") == "bcd"
    c.add("b", "B2")  # re-adding keeps the position
    c.add("e", "E")
    assert present(c, "abcde") == "cde"


def test_lifo_evicts_the_newest_insert() -> None:
    c = LIFO(max_cache_size=3)
    fill(c, "abc")
    c.add("d", "D")
    assert present(c, "abcd") == "abd"
    c.add("e", "E")
    assert present(c, "abcde") == "abe"


def test_lru_evicts_the_least_recently_used() -> None:
    c = LRU(max_cache_size=3)
    fill(c, "abc")
    c.get("a")
    c.add("d", "D")
    assert present(c, "abcd") == "acd"  # b was the least recently used
    c.add("c", "C2")  # re-adding is a use
    c.add("e", "E")
    assert present(c, "abcde") == "cde"
    assert c.get("c") == "C2"


def test_mru_evicts_the_most_recently_used() -> None:
    c = MRU(max_cache_size=3)
    fill(c, "abc")
    c.get("a")
    c.add("d", "D")
    assert present(c, "abcd") == "bcd"  # a was used last


def test_rr_evicts_a_random_item_reproducibly_with_a_seed() -> None:
    runs = []
    for _ in range(2):
        c = RR(max_cache_size=3, seed=7)
        fill(c, "abcdefgh")
        assert c.current_cache_size == 3
        runs.append(present(c, "abcdefgh"))
    assert runs[0] == runs[1] and runs[0].endswith("h")  # the newest item always gets in
    survivors = set()
    for seed in range(20):
        c = RR(max_cache_size=3, seed=seed)
        fill(c, "abcdefgh")
        survivors.add(present(c, "abcdefgh"))
    assert len(survivors) > 1  # the victims are not a fixed order


@pytest.mark.parametrize("cls", [FIFO, LIFO, LRU, MRU, RR])
def test_miss_size_zero_and_bad_sizes(cls: type[BoundedCache]) -> None:
    c = cls(max_cache_size=2)
    with pytest.raises(CacheMissError):
        c.get("nope")
    c.add("x", None)
    assert c.get("x") is None  # None is a value, not a miss
    empty = cls(max_cache_size=0)
    empty.add("x", 1)
    with pytest.raises(CacheMissError):
        empty.get("x")
    assert empty.current_cache_size == 0
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError):
            cls(max_cache_size=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [FIFO, LIFO, LRU, MRU, RR])
def test_thread_safe_under_concurrent_use(cls: type[BoundedCache]) -> None:
    c = cls(max_cache_size=16)
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        barrier.wait()
        try:
            for i in range(500):
                key = f"{n}-{i}"
                c.add(key, i)
                try:
                    value = c.get(key)
                except CacheMissError:
                    pass  # another thread may have evicted it already
                else:
                    assert value == i  # keys are per thread: a hit must be our own value
                assert c.current_cache_size <= 16
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert c.current_cache_size == 16


def test_build_cache_from_configuration_and_selinon_names() -> None:
    built = build_cache(cache("LRU", "selinon.caches.lru", max_cache_size=4))
    assert isinstance(built, LRU) and built.max_cache_size == 4
    assert isinstance(build_cache(cache("RR", "selinon_django.caches.rr", max_cache_size=1, seed=3)), RR)
    with pytest.raises(TypeError, match="not a cache"):
        build_cache(cache("Thread", "threading"))
