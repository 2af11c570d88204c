"""The storage pool: which storage a task uses, and one connected adapter per storage per process.

Selinon's ``StoragePool`` is a set of class methods over one global configuration. Here a pool
is bound to a :class:`SystemConfig` (a revision), because runs of different revisions can be
served by the same worker. The adapters themselves are shared process-wide, keyed by the
storage's name *and* its definition: a new revision that leaves a storage unchanged keeps its
connection, one that changes it gets a fresh adapter.

A process keeps the pools of at most :attr:`StoragePool.max_pools` revisions. Past that, the pool
of the revision used least recently is forgotten, and with it the adapters and caches that no
remaining pool's configuration defines (disconnected): a long-lived worker that sees revision
after revision keeps a bounded set of pools and connections, while a storage unchanged across
revisions keeps its one connected adapter. A run of a forgotten revision that comes back gets a
new pool (and connects what it needs again).

Selinon's class-level calls still work where user code makes them:
``StoragePool.get_connected_storage(name)`` on the class uses the *current* pool - the pool of
the task running in this thread or context (:meth:`StoragePool.activated`), else the pool of the
configuration that :meth:`StoragePool.set_current_config_source` names (the app registers the
current revision).
"""
from __future__ import annotations

import copy
import functools
import hashlib
import importlib
import itertools
import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar, Concatenate, Generic, ParamSpec, TypeVar

from selinon_django.caches import build_cache
from selinon_django.caches.base import Cache, CacheMissError
from selinon_django.config.model import CacheConfig, Storage, SystemConfig, Task, thaw
from selinon_django.errors import SelinonDjangoError
from selinon_django.storages.base import DataStorage, ExcInfo
from selinon_django.trace.events import Trace
from selinon_django.trace.tracer import Tracer

logger = logging.getLogger(__name__)

_AdapterKey = tuple[str, str, str, str]
_CacheKey = tuple[str, str, str]


class StorageNotConfigured(SelinonDjangoError, LookupError):
    """A task has no storage (or a storage name is not in the configuration)."""


def _module_name(module: str) -> str:
    # Selinon's own module names (``selinon.storages.memory``) name this package's equivalents
    if module == "selinon" or module.startswith("selinon."):
        return "selinon_django" + module[len("selinon") :]
    return module


def _adapter_key(storage: Storage) -> _AdapterKey:
    configuration = json.dumps(thaw(storage.configuration), sort_keys=True, default=str)
    return (storage.name, storage.module, storage.classname, configuration)


def _cache_key(owner: str, cache: CacheConfig) -> _CacheKey:
    configuration = json.dumps(thaw(cache.configuration), sort_keys=True, default=str)
    return (owner, f"{cache.module}.{cache.name}", configuration)


def _cache_keys(config: SystemConfig) -> Iterator[_CacheKey]:
    """The keys of every cache a configuration defines (storages', tasks' and flows')."""
    for kind, definitions in (("storage", config.storages), ("task", config.tasks), ("flow", config.flows)):
        for name, definition in definitions.items():
            cache = getattr(definition, "cache", None)
            if cache is not None:
                yield _cache_key(f"{kind}:{name}", cache)


def config_key(config: SystemConfig) -> str:
    """The revision's content hash (falls back to a hash of the objects while the config layer
    cannot compute one, e.g. for configurations built by hand in tests)."""
    from selinon_django.config import content_hash

    try:
        return content_hash(config)
    except NotImplementedError:
        return "repr:" + hashlib.sha256(repr(config).encode()).hexdigest()


_P = ParamSpec("_P")
_R = TypeVar("_R")

#: the pool of the task running in this context (set by :meth:`StoragePool.activated`)
_active_pool: ContextVar[StoragePool | None] = ContextVar("selinon_django_active_pool", default=None)


class _SelinonClassMethod(Generic[_P, _R]):
    """A method that also works on the class, as Selinon's classmethods do.

    ``pool.method(...)`` is the ordinary method; ``StoragePool.method(...)`` calls it on
    :meth:`StoragePool.current`, looked up at call time (not when the attribute is read, so
    introspecting the class never needs a configuration).
    """

    def __init__(self, method: Callable[Concatenate[StoragePool, _P], _R]) -> None:
        self.method = method
        self.__doc__ = method.__doc__
        self.__wrapped__ = method

    def __get__(self, instance: StoragePool | None, owner: type[StoragePool]) -> Callable[_P, _R]:
        method = self.method
        if instance is not None:
            return functools.partial(method, instance)

        @functools.wraps(method)
        def on_current_pool(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            return method(owner.current(), *args, **kwargs)

        return on_current_pool


class StoragePool:
    """Storage lookups for one configuration; see the module docstring for sharing rules."""

    #: how many revisions' pools this process keeps (the least recently used go first)
    max_pools: ClassVar[int] = 16

    # process-wide state, shared by every pool
    _pools: ClassVar[dict[str, StoragePool]] = {}
    #: the pool of a configuration object already seen (its content hash costs a JSON dump of
    #: the whole configuration, and every hop of a flow asks); holds the object, so ids stay unique
    _by_object: ClassVar[dict[int, tuple[SystemConfig, StoragePool]]] = {}
    #: the recency clock of pools (``next()`` on it is atomic)
    _ticks: ClassVar[Iterator[int]] = itertools.count()
    _adapters: ClassVar[dict[_AdapterKey, DataStorage]] = {}
    _caches: ClassVar[dict[_CacheKey, Cache]] = {}
    _key_locks: ClassVar[dict[object, threading.Lock]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()
    #: the configuration class-level calls use outside a task (None: they raise)
    _current_config_source: ClassVar[Callable[[], SystemConfig] | None] = None

    def __init__(self, config: SystemConfig, tracer: Tracer | None = None) -> None:
        self.config = config
        self._tracer = tracer
        self._tracer_lock = threading.Lock()
        self._overrides: dict[str, DataStorage] = {}
        self._last_used = 0
        #: the shared adapters and caches this configuration defines (kept while a pool needs them)
        self._adapter_keys = frozenset(_adapter_key(storage) for storage in config.storages.values())
        self._cache_keys = frozenset(_cache_keys(config))

    # --- process-wide registry -------------------------------------------------------------

    @classmethod
    def for_config(cls, config: SystemConfig) -> StoragePool:
        """The process-wide pool of a revision (one per content hash, the newest ``max_pools``)."""
        seen = cls._by_object.get(id(config))
        if seen is not None and seen[0] is config:
            seen[1]._last_used = next(cls._ticks)
            return seen[1]
        key = config_key(config)
        with cls._registry_lock:
            pool = cls._pools.get(key)
            if pool is None:
                pool = cls._pools[key] = cls(config)
            pool._last_used = next(cls._ticks)
            cls._by_object[id(config)] = (config, pool)
            # a few configuration objects per pool (the same revision read twice); drop the oldest
            for stale in list(cls._by_object)[: max(0, len(cls._by_object) - 4 * cls.max_pools)]:
                del cls._by_object[stale]
            unused = cls._evict_locked() if len(cls._pools) > cls.max_pools else []
        for name, adapter in unused:
            _disconnect_quietly(name, adapter)
        return pool

    @classmethod
    def _evict_locked(cls) -> list[tuple[str, DataStorage]]:
        """Forget the least recently used pools beyond ``max_pools``, and the adapters and caches
        only they defined; returns those adapters (to disconnect outside the lock)."""
        by_age = sorted(cls._pools.items(), key=lambda item: item[1]._last_used)
        evicted = {id(pool) for _, pool in by_age[: len(by_age) - max(1, cls.max_pools)]}
        for config_key_, pool in by_age:
            if id(pool) in evicted:
                del cls._pools[config_key_]
        for object_id in [oid for oid, (_, pool) in cls._by_object.items() if id(pool) in evicted]:
            del cls._by_object[object_id]
        live_adapters: frozenset[_AdapterKey] = frozenset().union(*(p._adapter_keys for p in cls._pools.values()))
        live_caches: frozenset[_CacheKey] = frozenset().union(*(p._cache_keys for p in cls._pools.values()))
        unused = [(key[0], cls._adapters.pop(key)) for key in list(cls._adapters) if key not in live_adapters]
        for cache_key in [cache_key for cache_key in cls._caches if cache_key not in live_caches]:
            del cls._caches[cache_key]
        for lock_key in list(cls._key_locks):
            if isinstance(lock_key, tuple) and len(lock_key) == 3 and lock_key[0] == "override":
                forget = lock_key[1] in evicted  # ("override", id(pool), storage name)
            else:
                forget = lock_key not in live_adapters and lock_key not in live_caches
            if forget:
                del cls._key_locks[lock_key]
        if unused:
            logger.info("storage pool: %d storage(s) of forgotten revisions disconnected", len(unused))
        return unused

    @classmethod
    def set_current_config_source(cls, source: Callable[[], SystemConfig] | None) -> None:
        """Where class-level calls outside a running task find their configuration."""
        cls._current_config_source = source

    @classmethod
    def current(cls) -> StoragePool:
        """The pool of the task running in this context, else of the current configuration.

        Raises :class:`StorageNotConfigured` when there is neither (no task is running and the
        app has not registered a configuration source).
        """
        pool = _active_pool.get()
        if pool is not None:
            return pool
        source = cls._current_config_source
        if source is None:
            raise StorageNotConfigured(
                "StoragePool was called on the class outside a task, and no configuration source is set "
                "(add selinon_django to INSTALLED_APPS and load a configuration with manage.py selinon_load)"
            )
        return cls.for_config(source())

    @contextmanager
    def activated(self) -> Iterator[StoragePool]:
        """Make this pool the one class-level calls use, for the duration of the block."""
        token = _active_pool.set(self)
        try:
            yield self
        finally:
            _active_pool.reset(token)

    @classmethod
    def reset(cls) -> None:
        """Disconnect and forget every adapter, cache and pool of this process (tests, shutdown)."""
        with cls._registry_lock:
            adapters = list(cls._adapters.items())
            cls._adapters.clear()
            cls._caches.clear()
            cls._pools.clear()
            cls._by_object.clear()
            cls._key_locks.clear()
        for (name, *_), adapter in adapters:
            _disconnect_quietly(name, adapter)

    @classmethod
    def _lock_for(cls, key: object) -> threading.Lock:
        with cls._registry_lock:
            lock = cls._key_locks.get(key)
            if lock is None:
                lock = cls._key_locks[key] = threading.Lock()
            return lock

    # --- tracing -----------------------------------------------------------------------------

    @property
    def tracer(self) -> Tracer:
        """The tracer of this revision's ``global.trace`` (built on first use)."""
        if self._tracer is None:
            with self._tracer_lock:
                if self._tracer is None:
                    self._tracer = Tracer.from_entries(
                        self.config.global_config.trace, storage_lookup=self.get_connected_storage
                    )
        return self._tracer

    def set_tracer(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def _trace(self, event: int, **details: Any) -> None:
        self.tracer.trace(event, details)

    # --- configuration lookups ---------------------------------------------------------------

    def _task(self, task_name: str) -> Task:
        try:
            return self.config.tasks[task_name]
        except KeyError:
            raise StorageNotConfigured(f"{task_name!r} is not a task of this configuration") from None

    @_SelinonClassMethod
    def get_storage_name_by_task_name(self, task_name: str, graceful: bool = False) -> str | None:
        """The storage name of a task; None (graceful) or :class:`StorageNotConfigured` if it has none."""
        if graceful and task_name not in self.config.tasks:
            return None
        storage = self._task(task_name).storage
        if storage is None and not graceful:
            raise StorageNotConfigured(f"task {task_name!r} has no storage configured")
        return storage

    @_SelinonClassMethod
    def get_storage_by_task_name(self, task_name: str) -> DataStorage | None:
        """The connected adapter of a task's storage, None when the task has no storage."""
        name = self.get_storage_name_by_task_name(task_name, graceful=True)
        return None if name is None else self.get_connected_storage(name)

    def stores_results(self, task_name: str) -> bool:
        """Whether a result of ``task_name`` is written anywhere (storage set and not read-only)."""
        task = self.config.tasks.get(task_name)
        return task is not None and task.storage is not None and not task.storage_read_only

    # --- adapters ----------------------------------------------------------------------------

    def set_storage(self, storage_name: str, adapter: DataStorage) -> None:
        """Use ``adapter`` for ``storage_name`` in this pool (tests; connected on first use)."""
        self._overrides[storage_name] = adapter

    def clear(self) -> None:
        """Disconnect and forget the adapters and caches this pool's storages use."""
        overrides = list(self._overrides.items())
        self._overrides.clear()
        removed: list[tuple[str, DataStorage]] = []
        with self._registry_lock:
            for storage in self.config.storages.values():
                adapter = self._adapters.pop(_adapter_key(storage), None)
                if adapter is not None:
                    removed.append((storage.name, adapter))
            owners = {f"storage:{s}" for s in self.config.storages} | {f"task:{t}" for t in self.config.tasks}
            owners |= {f"flow:{f}" for f in self.config.flows}
            for key in [k for k in self._caches if k[0] in owners]:
                del self._caches[key]
        for name, adapter in overrides + removed:
            _disconnect_quietly(name, adapter)
            self._trace(Trace.STORAGE_DISCONNECT, storage_name=name)

    def _storage(self, storage_name: str) -> Storage:
        try:
            return self.config.storages[storage_name]
        except KeyError:
            raise StorageNotConfigured(f"{storage_name!r} is not a storage of this configuration") from None

    def _instantiate(self, storage: Storage) -> DataStorage:
        cls: Any = getattr(importlib.import_module(_module_name(storage.module)), storage.classname)
        adapter: DataStorage = cls(**thaw(storage.configuration))
        return adapter

    @_SelinonClassMethod
    def get_connected_storage(self, storage_name: str) -> DataStorage:
        """The process's adapter for ``storage_name``, created and connected on first use.

        Under concurrent first use exactly one adapter is created and connected once.
        """
        override = self._overrides.get(storage_name)
        if override is not None:
            return self._connected(("override", id(self), storage_name), storage_name, lambda: override)
        storage = self._storage(storage_name)
        key = _adapter_key(storage)

        def shared_adapter() -> DataStorage:
            adapter = self._adapters.get(key)
            if adapter is None:
                adapter = self._adapters[key] = self._instantiate(storage)
            return adapter

        return self._connected(key, storage_name, shared_adapter)

    def _connected(self, key: object, storage_name: str, get_adapter: Callable[[], DataStorage]) -> DataStorage:
        with self._lock_for(key):
            adapter = get_adapter()
            connected_now = not adapter.is_connected()
            if connected_now:
                adapter.connect()
        # traced outside the lock: a storage trace backend may itself ask for a storage
        if connected_now:
            self._trace(Trace.STORAGE_CONNECT, storage_name=storage_name)
        return adapter

    # --- caches ------------------------------------------------------------------------------

    def _cache(self, owner: str, cache_config: CacheConfig | None) -> Cache | None:
        if cache_config is None:
            return None
        key = _cache_key(owner, cache_config)
        with self._lock_for(key):
            cache = self._caches.get(key)
            if cache is None:
                cache = self._caches[key] = build_cache(cache_config)
            return cache

    def result_cache(self, task_name: str) -> Cache | None:
        """The cache of a task's results: the task's own ``cache:``, else its storage's."""
        task = self._task(task_name)
        if task.cache is not None:
            return self._cache(f"task:{task_name}", task.cache)
        if task.storage is not None:
            return self._cache(f"storage:{task.storage}", self._storage(task.storage).cache)
        return None

    def node_state_cache(self, flow_name: str) -> Cache | None:
        """The node-state cache of a flow (its ``cache:``), None when it has none."""
        flow = self.config.flows.get(flow_name)
        return None if flow is None else self._cache(f"flow:{flow_name}", flow.cache)

    # --- results -----------------------------------------------------------------------------

    def _resolve(self, task_name: str) -> tuple[Task, str, DataStorage]:
        task = self._task(task_name)
        if task.storage is None:
            raise StorageNotConfigured(f"task {task_name!r} has no storage configured, so it has no stored results")
        return task, task.storage, self.get_connected_storage(task.storage)

    @_SelinonClassMethod
    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """A task's result: from the result cache if it has it, else from the task's storage.

        The storage is asked under the task's ``storage_task_name``. A broken cache is traced
        (``TASK_RESULT_CACHE_ISSUE``) and bypassed, never raised.
        """
        task, storage_name, adapter = self._resolve(task_name)
        storage_task_name = task.storage_name_for_results
        details = {
            "flow_name": flow_name, "task_name": task_name, "task_id": task_id,
            "storage_name": storage_name, "storage_task_name": storage_task_name,
        }
        cache: Cache | None = None
        try:
            cache = self.result_cache(task_name)
        except Exception as exc:
            self._trace(Trace.TASK_RESULT_CACHE_ISSUE, **details, cache_name=None, what=repr(exc))
        if cache is not None:
            cache_name = type(cache).__name__
            self._trace(Trace.TASK_RESULT_CACHE_GET, **details, cache_name=cache_name)
            try:
                result = cache.get(task_id, task_name=storage_task_name, flow_name=flow_name)
            except CacheMissError:
                self._trace(Trace.TASK_RESULT_CACHE_MISS, **details, cache_name=cache_name)
            except Exception as exc:
                self._trace(Trace.TASK_RESULT_CACHE_ISSUE, **details, cache_name=cache_name, what=repr(exc))
            else:
                self._trace(Trace.TASK_RESULT_CACHE_HIT, **details, cache_name=cache_name)
                return copy.deepcopy(result)  # the caller may mutate what it gets

        self._trace(Trace.STORAGE_RETRIEVE, **details)
        result = adapter.retrieve(flow_name, storage_task_name, task_id)
        self._trace(Trace.STORAGE_RETRIEVED, **details)

        if cache is not None:
            try:
                cache.add(task_id, copy.deepcopy(result), task_name=storage_task_name, flow_name=flow_name)
            except Exception as exc:
                self._trace(Trace.TASK_RESULT_CACHE_ISSUE, **details, cache_name=cache_name, what=repr(exc))
            else:
                self._trace(Trace.TASK_RESULT_CACHE_ADD, **details, cache_name=cache_name)
        return result

    @_SelinonClassMethod
    def store(self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any) -> Any:
        """Store a result under the task's ``storage_task_name``; the record id.

        None (and nothing stored) when the task has no storage or it is read-only: check
        :meth:`stores_results` first to trace ``TASK_DISCARD_RESULT``.
        """
        if not self.stores_results(task_name):
            return None
        task, storage_name, adapter = self._resolve(task_name)
        details = {
            "flow_name": flow_name, "task_name": task_name, "task_id": task_id, "node_args": node_args,
            "storage_name": storage_name, "storage_task_name": task.storage_name_for_results,
        }
        self._trace(Trace.STORAGE_STORE, **details)
        record_id = adapter.store(node_args, flow_name, task.storage_name_for_results, task_id, result)
        self._trace(Trace.STORAGE_STORED, **details, record_id=record_id)
        return record_id

    @_SelinonClassMethod
    def store_error(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: ExcInfo | tuple[Any, Any, Any]
    ) -> Any:
        """Record a task's final failure in its storage; the record id, or None when not stored
        (no storage, read-only, or an adapter without ``store_error``: ``STORAGE_OMIT_STORE_ERROR``)."""
        task = self._task(task_name)
        details: dict[str, Any] = {
            "flow_name": flow_name, "task_name": task_name, "task_id": task_id, "node_args": node_args,
            "storage_name": task.storage, "storage_task_name": task.storage_name_for_results,
        }
        if task.storage is None or task.storage_read_only:
            reason = "no storage" if task.storage is None else "storage is read-only"
            self._trace(Trace.STORAGE_OMIT_STORE_ERROR, **details, reason=reason)
            return None
        adapter = self.get_connected_storage(task.storage)
        try:
            record_id = adapter.store_error(node_args, flow_name, task.storage_name_for_results, task_id, exc_info)
        except NotImplementedError:
            self._trace(Trace.STORAGE_OMIT_STORE_ERROR, **details, reason="store_error() is not implemented")
            return None
        self._trace(Trace.STORAGE_STORE_ERROR, **details, record_id=record_id)
        return record_id

    def retrieve_error(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """The error record ``store_error`` kept for a task (``storage_task_name`` applies)."""
        task, _, adapter = self._resolve(task_name)
        return adapter.retrieve_error(flow_name, task.storage_name_for_results, task_id)

    @_SelinonClassMethod
    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        task, storage_name, adapter = self._resolve(task_name)
        details = {
            "flow_name": flow_name, "task_name": task_name, "task_id": task_id,
            "storage_name": storage_name, "storage_task_name": task.storage_name_for_results,
        }
        self._trace(Trace.STORAGE_DELETE, **details)
        adapter.delete(flow_name, task.storage_name_for_results, task_id)
        self._trace(Trace.STORAGE_DELETED, **details)

    #: Selinon's names of :meth:`store` and :meth:`store_error`
    set = store
    set_error = store_error


def _disconnect_quietly(name: str, adapter: DataStorage) -> None:
    try:
        if adapter.is_connected():
            adapter.disconnect()
    except Exception:
        logger.exception("disconnecting storage %s failed", name)
