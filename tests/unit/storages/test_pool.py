"""StoragePool: lookups, one adapter per process under threads, caches, traces."""
from __future__ import annotations

import sys
import threading
from typing import Any

import pytest

from selinon_django.caches.lru import LRU
from selinon_django.config.model import TraceEntry, freeze
from selinon_django.storages.base import DataStorage
from selinon_django.storages.memory import InMemoryStorage
from selinon_django.storages.pool import StorageNotConfigured, StoragePool
from selinon_django.trace.events import Trace
from selinon_django.trace.tracer import Tracer
from tests.unit.storages.helpers import Recorder, cache, make_config, storage, task

HERE = __name__


class CountingStorage(InMemoryStorage):
    """Counts instances and connects; ``connect`` blocks until the test releases it."""

    instances = 0
    connects = 0
    entered = threading.Event()
    release = threading.Event()
    lock = threading.Lock()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with CountingStorage.lock:
            CountingStorage.instances += 1

    def connect(self) -> None:
        CountingStorage.entered.set()
        assert CountingStorage.release.wait(timeout=10)
        with CountingStorage.lock:
            CountingStorage.connects += 1
        super().connect()


class BrokenCache:
    """A cache whose every operation fails (a cache server that is down)."""

    def __init__(self, **_: Any) -> None:
        pass

    def add(self, *args: Any, **kwargs: Any) -> None:
        raise ConnectionError("cache down")

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache down")


class NoErrorStorage(DataStorage):
    """A Selinon-style adapter that does not implement store_error."""

    def __init__(self, **_: Any) -> None:
        super().__init__()
        self.connected = False

    def is_connected(self) -> bool:
        return self.connected

    def connect(self) -> None:
        self.connected = True

    def disconnect(self) -> None:
        self.connected = False

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        return None

    def store(self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any) -> Any:
        return task_id


def traced_pool(config: Any) -> tuple[StoragePool, Recorder]:
    recorder = Recorder()
    return StoragePool(config, tracer=Tracer([recorder])), recorder


def test_storage_lookups() -> None:
    pool = StoragePool(make_config(tasks=[task("T1"), task("T2", storage_name=None)]))
    assert pool.get_storage_name_by_task_name("T1") == "Memory"
    assert pool.get_storage_name_by_task_name("T2", graceful=True) is None
    assert pool.get_storage_name_by_task_name("Unknown", graceful=True) is None
    with pytest.raises(StorageNotConfigured, match="task 'T2' has no storage"):
        pool.get_storage_name_by_task_name("T2")
    with pytest.raises(StorageNotConfigured, match="'Nope' is not a storage"):
        pool.get_connected_storage("Nope")
    with pytest.raises(StorageNotConfigured, match="no stored results"):
        pool.retrieve("flow1", "T2", "x")
    assert pool.get_storage_by_task_name("T2") is None
    assert pool.stores_results("T1") and not pool.stores_results("T2")


def test_one_adapter_per_process_under_concurrent_first_use() -> None:
    CountingStorage.instances = CountingStorage.connects = 0
    CountingStorage.entered.clear()
    CountingStorage.release.clear()
    config = make_config(tasks=[task("T1", storage_name="S")], storages=[storage("S", HERE, "CountingStorage")])
    pools = [StoragePool(config), StoragePool(config)]  # two pools of one revision share the adapter too
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    got: list[DataStorage] = []

    def worker(i: int) -> None:
        barrier.wait()
        got.append(pools[i % 2].get_connected_storage("S"))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    assert CountingStorage.entered.wait(timeout=10)  # one thread is connecting, the others wait
    CountingStorage.release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert len(got) == threads_count and all(a is got[0] for a in got)
    assert CountingStorage.instances == 1 and CountingStorage.connects == 1


def test_for_config_is_process_wide_and_storage_aliases_are_separate() -> None:
    config = make_config(
        tasks=[task("T1", storage_name="A"), task("T2", storage_name="B")], storages=[storage("A"), storage("B")]
    )
    pool = StoragePool.for_config(config)
    assert StoragePool.for_config(config) is pool
    assert pool.get_connected_storage("A") is not pool.get_connected_storage("B")  # same class, two aliases
    pool.store(None, "flow1", "T1", "i", 1)
    with pytest.raises(KeyError):
        pool.get_connected_storage("B").retrieve("flow1", "T1", "i")


def test_new_revision_keeps_an_unchanged_storage_and_renews_a_changed_one() -> None:
    old = StoragePool(make_config(tasks=[task("T1")]))
    same = StoragePool(make_config(tasks=[task("T1"), task("T2")]))
    changed = StoragePool(make_config(tasks=[task("T1")], storages=[storage("Memory", configuration={"echo": True})]))
    adapter = old.get_connected_storage("Memory")
    assert same.get_connected_storage("Memory") is adapter
    assert changed.get_connected_storage("Memory") is not adapter


def test_storage_connect_is_traced_once() -> None:
    pool, recorder = traced_pool(make_config(tasks=[task("T1")]))
    pool.get_connected_storage("Memory")
    pool.get_connected_storage("Memory")
    assert recorder.events == [(Trace.STORAGE_CONNECT, {"storage_name": "Memory"})]


def test_store_and_retrieve_use_storage_task_name_and_trace() -> None:
    pool, recorder = traced_pool(make_config(tasks=[task("T1", storage_task_name="Alias")]))
    record_id = pool.store({"a": 1}, "flow1", "T1", "i1", {"r": 1})
    assert pool.get_connected_storage("Memory").retrieve("flow1", "Alias", "i1") == {"r": 1}
    assert pool.retrieve("flow1", "T1", "i1") == {"r": 1}
    assert recorder.names() == [
        "STORAGE_CONNECT", "STORAGE_STORE", "STORAGE_STORED", "STORAGE_RETRIEVE", "STORAGE_RETRIEVED",
    ]
    stored = recorder.events[2][1]
    assert stored == {"flow_name": "flow1", "task_name": "T1", "task_id": "i1", "node_args": {"a": 1},
                      "storage_name": "Memory", "storage_task_name": "Alias", "record_id": record_id}
    pool.delete("flow1", "T1", "i1")
    assert recorder.names()[-2:] == ["STORAGE_DELETE", "STORAGE_DELETED"]
    with pytest.raises(KeyError):
        pool.retrieve("flow1", "T1", "i1")


def test_read_only_and_missing_storage_store_nothing() -> None:
    pool, _recorder = traced_pool(make_config(tasks=[task("RO", storage_read_only=True), task("N", storage_name=None)]))
    assert pool.store(None, "flow1", "RO", "i", 1) is None
    assert pool.store(None, "flow1", "N", "i", 1) is None
    adapter = pool.get_connected_storage("Memory")
    assert isinstance(adapter, InMemoryStorage) and len(adapter) == 0
    assert pool.get_storage_by_task_name("RO") is not None  # still readable through self.storage


def exc_info() -> tuple[Any, Any, Any]:
    try:
        raise ValueError("x")
    except ValueError:
        return sys.exc_info()


def test_store_error_traces_stored_or_omitted() -> None:
    config = make_config(
        tasks=[task("T1"), task("RO", storage_read_only=True), task("N", storage_name=None),
               task("Old", storage_name="Old")],
        storages=[storage("Memory"), storage("Old", HERE, "NoErrorStorage")],
    )
    pool, recorder = traced_pool(config)
    assert pool.store_error(None, "flow1", "T1", "i1", exc_info()) == "i1"
    assert pool.retrieve_error("flow1", "T1", "i1")["message"] == "x"
    assert pool.store_error(None, "flow1", "RO", "i2", exc_info()) is None
    assert pool.store_error(None, "flow1", "N", "i3", exc_info()) is None
    assert pool.store_error(None, "flow1", "Old", "i4", exc_info()) is None
    reasons = [d.get("reason") for e, d in recorder.events if e == Trace.STORAGE_OMIT_STORE_ERROR]
    assert reasons == ["storage is read-only", "no storage", "store_error() is not implemented"]
    assert Trace.STORAGE_STORE_ERROR in [e for e, _ in recorder.events]


def test_result_cache_hit_miss_add() -> None:
    lru = cache("LRU", "selinon.caches.lru", max_cache_size=10)  # Selinon's module name works too
    config = make_config(tasks=[task("T1")], storages=[storage("Memory", cache=lru)])
    pool, recorder = traced_pool(config)
    pool.store(None, "flow1", "T1", "i1", {"r": [1]})
    recorder.events.clear()
    first = pool.retrieve("flow1", "T1", "i1")
    first["r"].append("mutated by the caller")
    pool.get_connected_storage("Memory").delete("flow1", "T1", "i1")  # only the cache has it now
    assert pool.retrieve("flow1", "T1", "i1") == {"r": [1]}
    assert recorder.names() == [
        "TASK_RESULT_CACHE_GET", "TASK_RESULT_CACHE_MISS", "STORAGE_RETRIEVE", "STORAGE_RETRIEVED",
        "TASK_RESULT_CACHE_ADD", "TASK_RESULT_CACHE_GET", "TASK_RESULT_CACHE_HIT",
    ]
    assert recorder.events[0][1]["cache_name"] == "LRU"
    assert isinstance(pool.result_cache("T1"), LRU)


def test_task_cache_wins_over_storage_cache() -> None:
    config = make_config(
        tasks=[task("T1", cache=cache("FIFO", "selinon_django.caches.fifo", max_cache_size=1)), task("T2")],
        storages=[storage("Memory", cache=cache("LRU", "selinon_django.caches.lru", max_cache_size=1))],
    )
    pool = StoragePool(config)
    assert type(pool.result_cache("T1")).__name__ == "FIFO"
    assert type(pool.result_cache("T2")).__name__ == "LRU"


def test_cache_failure_is_traced_not_raised() -> None:
    config = make_config(tasks=[task("T1")], storages=[storage("Memory", cache=cache("BrokenCache", HERE))])
    pool, recorder = traced_pool(config)
    pool.store(None, "flow1", "T1", "i1", 5)
    assert pool.retrieve("flow1", "T1", "i1") == 5
    issues = [d for e, d in recorder.events if e == Trace.TASK_RESULT_CACHE_ISSUE]
    assert [d["what"] for d in issues] == ["ConnectionError('cache down')"] * 2  # get and add


def test_unbuildable_cache_is_traced_not_raised() -> None:
    config = make_config(tasks=[task("T1")], storages=[storage("Memory", cache=cache("Nope", HERE))])
    pool, recorder = traced_pool(config)
    pool.store(None, "flow1", "T1", "i1", 5)
    assert pool.retrieve("flow1", "T1", "i1") == 5
    assert Trace.TASK_RESULT_CACHE_ISSUE in [e for e, _ in recorder.events]


def test_node_state_cache_of_a_flow() -> None:
    from selinon_django.config.model import Edge, Flow

    flow = Flow(name="flow1", edges=(Edge(index=0, from_=(), to=("T1",)),),
                cache=cache("MRU", "selinon_django.caches.mru", max_cache_size=3))
    pool = StoragePool(make_config(tasks=[task("T1")], flows=[flow]))
    assert type(pool.node_state_cache("flow1")).__name__ == "MRU"
    assert pool.node_state_cache("flow1") is pool.node_state_cache("flow1")
    assert pool.node_state_cache("unknown") is None


def test_set_storage_and_clear() -> None:
    pool, recorder = traced_pool(make_config(tasks=[task("T1")]))
    mine = InMemoryStorage()
    pool.set_storage("Memory", mine)
    assert pool.get_connected_storage("Memory") is mine and mine.is_connected()
    pool.clear()
    assert not mine.is_connected()
    assert pool.get_connected_storage("Memory") is not mine
    assert "STORAGE_DISCONNECT" in recorder.names()


class TracingStorage(InMemoryStorage):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.traced: list[int] = []

    def trace(self, event: int, details: dict[str, Any]) -> None:
        self.traced.append(event)


def test_storage_trace_backend_does_not_recurse_on_its_own_connect() -> None:
    config = make_config(
        tasks=[task("T1")],
        storages=[storage("Memory"), storage("TraceStore", HERE, "TracingStorage")],
        trace=[TraceEntry(kind="storage", options=freeze({"name": "TraceStore", "method": "trace"}))],
    )
    pool = StoragePool(config)
    pool.store(None, "flow1", "T1", "i", 1)
    adapter = pool.get_connected_storage("TraceStore")
    assert isinstance(adapter, TracingStorage)
    # STORAGE_CONNECT of Memory reached the trace storage; its own connect (inside the backend) did not loop
    assert adapter.traced[:3] == [Trace.STORAGE_CONNECT, Trace.STORAGE_STORE, Trace.STORAGE_STORED]
