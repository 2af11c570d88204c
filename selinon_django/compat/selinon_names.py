"""Selinon's public modules and names, and what each one is in this app.

The table is written out name by name on purpose: what ``import selinon`` offers is decided
here and reviewed here, never by what happens to be importable inside ``selinon_django``. A
target is ``"module:attribute"`` and is imported only when the name is first read, so
``from selinon import SelinonTask`` does not import the runtime (which needs Django's models).

Modules that Selinon's documentation names but that are its internals (its dispatcher, its
executor, its configuration objects...) have no counterpart: importing them raises
``ModuleNotFoundError`` saying what replaces them (:data:`INTERNAL_MODULES`).
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "CACHE_CLASSES",
    "INTERNAL_MODULES",
    "MODULES",
    "PACKAGES",
    "PREDICATE_NAMES",
    "SELINON_API_VERSION",
    "STRATEGY_NAMES",
    "UNSUPPORTED_NAMES",
]

#: the Selinon release whose API and behaviour this app follows (``selinon.version``)
SELINON_API_VERSION = "1.4.0"

#: Selinon's built-in predicates; each is in ``selinon.predicates`` and is also a module of its own
#: (``selinon.predicates.fieldEqual`` holds ``fieldEqual``)
PREDICATE_NAMES: tuple[str, ...] = (
    "alwaysFalse", "alwaysTrue",
    "argsEmpty", "argsFieldBool", "argsFieldContain", "argsFieldDict", "argsFieldEqual", "argsFieldExist",
    "argsFieldFloat", "argsFieldGreater", "argsFieldGreaterEqual", "argsFieldInt", "argsFieldLenEqual",
    "argsFieldLenGreater", "argsFieldLenGreaterEqual", "argsFieldLenLess", "argsFieldLenLessEqual",
    "argsFieldLenNotEqual", "argsFieldLess", "argsFieldLessEqual", "argsFieldList", "argsFieldNone",
    "argsFieldNotEqual", "argsFieldStr", "argsFieldUrlNetloc", "argsFieldUrlPath", "argsFieldUrlScheme",
    "argsIsBool", "argsIsDict", "argsIsFloat", "argsIsInt", "argsIsList", "argsIsNone", "argsIsStr",
    "empty", "envEqual", "envExist",
    "fieldBool", "fieldContain", "fieldDict", "fieldEqual", "fieldExist", "fieldFloat", "fieldGreater",
    "fieldGreaterEqual", "fieldInt", "fieldLenEqual", "fieldLenGreater", "fieldLenGreaterEqual", "fieldLenLess",
    "fieldLenLessEqual", "fieldLenNotEqual", "fieldLess", "fieldLessEqual", "fieldList", "fieldNone",
    "fieldNotEqual", "fieldStr", "fieldUrlNetloc", "fieldUrlPath", "fieldUrlScheme",
    "httpStatus", "isBool", "isDict", "isFloat", "isInt", "isList", "isNone", "isStr",
)

#: Selinon's sampling strategies (``selinon.strategies``)
STRATEGY_NAMES: tuple[str, ...] = (
    "biexponential_adapt", "biexponential_decrease", "biexponential_increase", "constant", "linear_adapt",
    "linear_increase", "random",
)

#: Selinon's result caches: ``selinon.caches.<lower name>`` holds ``<NAME>``
CACHE_CLASSES: tuple[str, ...] = ("FIFO", "LIFO", "LRU", "MRU", "RR")

_ERRORS = "selinon_django.errors"
_COMPAT_ERRORS = "selinon_django.compat.errors"

#: ``selinon.errors`` (Selinon re-exports its errors from the top-level package too)
_ERROR_NAMES: dict[str, str] = {
    "SelinonException": f"{_ERRORS}:SelinonDjangoError",
    "FatalTaskError": f"{_ERRORS}:FatalTaskError",
    "ConfigurationError": f"{_ERRORS}:ConfigurationError",
    "SelectiveNoPathError": f"{_ERRORS}:SelectiveNoPathError",
    "UnknownFlowError": f"{_ERRORS}:UnknownFlowError",
    "MigrationSkew": f"{_ERRORS}:MigrationSkew",
    "CacheMissError": "selinon_django.caches.base:CacheMissError",
    "StorageError": "selinon_django.storages.base:StorageError",
    "UnknownStorageError": "selinon_django.storages.pool:StorageNotConfigured",
    "NoParentNodeError": "selinon_django.task:ParentLookupError",
    "Retry": "selinon_django.task:RequestedRetry",
    # what AsyncResult(run_id).get() raises for a failed flow, as Selinon's dispatcher raised FlowError
    "FlowError": "selinon_django.runtime.results:FlowFailedError",
    # Selinon's own, never raised here: defined so that imports and except clauses keep working
    "ConfigNotInitializedError": f"{_COMPAT_ERRORS}:ConfigNotInitializedError",
    "DispatcherRetry": f"{_COMPAT_ERRORS}:DispatcherRetry",
    "MigrationException": f"{_COMPAT_ERRORS}:MigrationException",
    "MigrationFlowFail": f"{_COMPAT_ERRORS}:MigrationFlowFail",
    "MigrationFlowRetry": f"{_COMPAT_ERRORS}:MigrationFlowRetry",
    "MigrationNotNeeded": f"{_COMPAT_ERRORS}:MigrationNotNeeded",
    "RequestError": f"{_COMPAT_ERRORS}:RequestError",
    "UnknownError": f"{_COMPAT_ERRORS}:UnknownError",
    "UnsupportedCeleryError": f"{_COMPAT_ERRORS}:UnsupportedCeleryError",
}

_CACHE_MODULES = {f"selinon.caches.{name.lower()}": {name: f"selinon_django.caches.{name.lower()}:{name}"}
                  for name in CACHE_CLASSES}

_PREDICATE_MODULES = {f"selinon.predicates.{name}": {name: f"selinon_django.predicates:{name}"}
                      for name in PREDICATE_NAMES}

_SQL = "selinon_django.storages.sql"

_TABLE: dict[str, dict[str, str]] = {
    "selinon": {
        "SelinonTask": "selinon_django.task:SelinonTask",
        "StoragePool": "selinon_django.storages.pool:StoragePool",
        "Config": "selinon_django.compat.config:Config",
        "DataStorage": "selinon_django.storages.base:DataStorage",
        "SelinonMissingDataException": "selinon_django.storages.base:SelinonMissingDataException",
        "Cache": "selinon_django.caches.base:Cache",
        "Trace": "selinon_django.trace.events:Trace",
        "run_flow": "selinon_django.compat.run:run_flow",
        "run_flow_selective": "selinon_django.compat.run:run_flow_selective",
        "selinon_version": "selinon_django.compat.selinon_names:SELINON_API_VERSION",
        **_ERROR_NAMES,
    },
    "selinon.selinon_task": {"SelinonTask": "selinon_django.task:SelinonTask"},
    "selinon.storage_pool": {"StoragePool": "selinon_django.storages.pool:StoragePool"},
    "selinon.data_storage": {
        "DataStorage": "selinon_django.storages.base:DataStorage",
        "SelinonMissingDataException": "selinon_django.storages.base:SelinonMissingDataException",
    },
    "selinon.config": {"Config": "selinon_django.compat.config:Config"},
    "selinon.errors": dict(_ERROR_NAMES),
    "selinon.run": {
        "run_flow": "selinon_django.compat.run:run_flow",
        "run_flow_selective": "selinon_django.compat.run:run_flow_selective",
    },
    "selinon.trace": {"Trace": "selinon_django.trace.events:Trace"},
    "selinon.version": {"selinon_version": "selinon_django.compat.selinon_names:SELINON_API_VERSION"},
    "selinon.routines": {"always_run": "selinon_django.routines:always_run"},
    "selinon.predicates": {name: f"selinon_django.predicates:{name}" for name in PREDICATE_NAMES},
    **_PREDICATE_MODULES,
    "selinon.strategies": {name: f"selinon_django.strategies:{name}" for name in STRATEGY_NAMES},
    "selinon.cache": {
        "Cache": "selinon_django.caches.base:Cache",
        "CacheMissError": "selinon_django.caches.base:CacheMissError",
    },
    "selinon.caches": {name: f"selinon_django.caches.{name.lower()}:{name}" for name in CACHE_CLASSES},
    **_CACHE_MODULES,
    "selinon.storages": {},
    "selinon.storages.memory": {"InMemoryStorage": "selinon_django.storages.memory:InMemoryStorage"},
    "selinon.storages.redis": {"Redis": "selinon_django.storages.redis:Redis"},
    "selinon.storages.filesystem": {"Filesystem": "selinon_django.storages.filesystem:Filesystem"},
    "selinon.storages.s3": {"S3": "selinon_django.storages.s3:S3", "S3Storage": "selinon_django.storages.s3:S3"},
    "selinon.storages.mongodb": {"MongoDB": "selinon_django.storages.mongo:MongoDB"},
    "selinon.storages.postgresql": {"PostgreSQL": f"{_SQL}:SqlStorage", "SqlStorage": f"{_SQL}:SqlStorage"},
    "selinon.storages.postgresql.adapter": {"PostgreSQL": f"{_SQL}:SqlStorage"},
    "selinon.storages.postgresql.models": {"Result": f"{_SQL}:Result"},
}

#: Selinon module -> {public name: "target.module:attribute"}
MODULES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {module: MappingProxyType(names) for module, names in _TABLE.items()}
)

#: the modules that have submodules (imported as packages)
PACKAGES: frozenset[str] = frozenset({
    "selinon", "selinon.predicates", "selinon.caches", "selinon.storages", "selinon.storages.postgresql",
})

_DISPATCHER = "the dispatcher and the task envelope are this app's Celery tasks, registered by the app itself"
_CONFIG = ("configurations are loaded into the database with `manage.py selinon_load` and read with "
           "`manage.py selinon_inspect`; their objects are selinon_django.config.model")

#: Selinon's internal modules, each with what replaces it here
INTERNAL_MODULES: Mapping[str, str] = MappingProxyType({
    "selinon.builtin_predicate": "conditions are evaluated by selinon_django.engine.conditions",
    "selinon.cache_config": _CONFIG,
    "selinon.celery": "selinon_django uses the project's Celery app (see Config.set_celery_app)",
    "selinon.cli": "the CLI is Django's manage.py: selinon_inspect, selinon_plot, selinon_execute, selinon_migrate",
    "selinon.codename": "selinon_django has no release codenames",
    "selinon.dispatcher": _DISPATCHER,
    "selinon.edge": _CONFIG,
    "selinon.executor": "`manage.py selinon_execute` runs flows in one process",
    "selinon.failure_node": _CONFIG,
    "selinon.failures": _CONFIG,
    "selinon.flow": _CONFIG,
    "selinon.global_config": _CONFIG,
    "selinon.helpers": "Selinon's helpers are internal to its configuration code",
    "selinon.leaf_predicate": "conditions are evaluated by selinon_django.engine.conditions",
    "selinon.lock_pool": "storage adapters are shared and locked by selinon_django.storages.pool",
    "selinon.migrations": "migrations are generated with `manage.py selinon_migrate` and kept in the database",
    "selinon.node": _CONFIG,
    "selinon.predicate": "conditions are evaluated by selinon_django.engine.conditions",
    "selinon.selective": "selective runs are planned by selinon_django.engine.selective (run_flow_selective)",
    "selinon.selective_run_function": _CONFIG,
    "selinon.storage": _CONFIG,
    "selinon.strategy": _CONFIG,
    "selinon.system": _CONFIG,
    "selinon.system_state": "a run's state is its FlowRun row (selinon_django.models)",
    "selinon.task": _CONFIG,
    "selinon.task_class": _CONFIG,
    "selinon.task_envelope": _DISPATCHER,
    "selinon.user_config": "graph styles are the SELINON_DJANGO['GRAPH_STYLE'] setting and selinon_plot --style",
})

#: names of Selinon's top-level package that have no counterpart, with what replaces them
UNSUPPORTED_NAMES: Mapping[str, str] = MappingProxyType({
    "Dispatcher": _DISPATCHER,
    "SelinonTaskEnvelope": _DISPATCHER,
    "SystemState": "a run's state is its FlowRun row (selinon_django.models)",
})
