"""The immutable objects a loaded configuration is made of.

This module is the contract between the layers: the loader builds these objects, the engine
reads them, the models store them. It is pure Python (no Django, no Celery) and every object is
frozen, so a configuration can be shared between threads and cached without copying.

Mappings inside frozen objects are ``types.MappingProxyType`` or plain tuples; call
:func:`thaw` to get JSON-ready data back.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

#: ``propagate_*``, ``eager_failures``: ``True`` (every node), ``False`` (none) or a set of names.
NodeSelector = bool | frozenset[str]

NodeKind = Literal["task", "flow"]


def selects(selector: NodeSelector, name: str) -> bool:
    """Whether a ``propagate_*``/``eager_failures`` value covers the node ``name``."""
    if isinstance(selector, bool):
        return selector
    return name in selector


def freeze(value: Any) -> Any:
    """Deep-freeze JSON-like data (dicts become read-only mappings, lists become tuples)."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Inverse of :func:`freeze`: plain dicts and lists, ready for JSON or YAML."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class ImportRef:
    """A Python object named in YAML by ``import`` (module) and a name (function or class)."""

    module: str
    name: str

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"


ImportKind = Literal[
    "task class",
    "storage class",
    "cache class",
    "predicates module",
    "foreach function",
    "selective run function",
    "sampling strategy",
    "trace function",
    "trigger task class",
]


@dataclass(frozen=True)
class ImportSite:
    """A Python object a configuration names, and where: every one is recorded by the parser
    (the only place YAML names become module names), so one allow-list check sees them all."""

    path: str
    kind: ImportKind
    module: str
    #: None: the module itself (the predicates module)
    name: str | None
    file: str = ""

    @property
    def what(self) -> str:
        return self.kind


@dataclass(frozen=True)
class CacheConfig:
    """A ``cache:`` entry of a storage (results) or a flow (node states)."""

    name: str
    module: str
    configuration: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Task:
    name: str
    module: str
    classname: str
    max_retry: int = 0
    retry_countdown: float = 0
    #: the path as written
    output_schema: str | None = None
    #: the JSON Schema document, read when the configuration was loaded (None: no schema, or
    #: a revision stored before schemas were kept)
    output_schema_document: Any = None
    storage: str | None = None
    storage_read_only: bool = False
    storage_task_name: str | None = None
    selective_run_function: ImportRef | None = None
    #: the queue after ``{VAR}`` expansion (None: the global default)
    queue: str | None = None
    #: the queue as written, with ``{VAR}`` placeholders (exported and hashed)
    queue_template: str | None = None
    #: minimum seconds between two starts of this task (None: no throttling)
    throttling: float | None = None
    # Beyond Selinon: Celery task options settable from YAML.
    time_limit: float | None = None
    soft_time_limit: float | None = None
    rate_limit: str | None = None
    priority: int | None = None
    #: a ``cache:`` for this task's results (the documentation's "Caching task results")
    cache: CacheConfig | None = None

    @property
    def storage_name_for_results(self) -> str:
        """The task name used for storage operations (store *and* retrieve)."""
        return self.storage_task_name or self.name


@dataclass(frozen=True)
class Storage:
    name: str
    module: str
    classname: str
    #: after ``{VAR}`` expansion
    configuration: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: as written
    configuration_template: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    cache: CacheConfig | None = None


@dataclass(frozen=True)
class Predicate:
    """A leaf of a condition: a predicate called with ``args`` (and a node's result if ``node``)."""

    name: str
    node: str | None = None
    args: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: the module the predicate function is imported from (global ``predicates_module``)
    module: str = "selinon_django.predicates"


@dataclass(frozen=True)
class And:
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    child: Condition


Condition = Predicate | And | Or | Not

ALWAYS_TRUE: Condition = Predicate(name="alwaysTrue")


@dataclass(frozen=True)
class Foreach:
    function: ImportRef
    propagate_result: bool = False


@dataclass(frozen=True)
class Selective:
    """Edge-level ``selective:`` (only on an edge to a single sub-flow)."""

    tasks: tuple[str, ...]
    follow_subflows: bool = False
    run_subsequent: bool = False


@dataclass(frozen=True)
class Edge:
    """An edge of a flow; ``index`` is its position in the flow's edge list (its identity)."""

    index: int
    from_: tuple[str, ...]
    to: tuple[str, ...]
    condition: Condition = ALWAYS_TRUE
    #: True when the YAML had no ``condition`` (export leaves it out again)
    condition_default: bool = True
    foreach: Foreach | None = None
    selective: Selective | None = None

    @property
    def is_starting(self) -> bool:
        return not self.from_


@dataclass(frozen=True)
class Failure:
    """A ``failures:`` entry. ``fallback`` is a tuple of node names, or ``True`` (just clear)."""

    nodes: frozenset[str]
    fallback: tuple[str, ...] | Literal[True]
    condition: Condition = ALWAYS_TRUE
    condition_default: bool = True
    #: the node names in YAML order (export keeps them)
    nodes_order: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sampling:
    name: str = "biexponential_increase"
    module: str = "selinon_django.strategies"
    args: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({"start_retry": 2, "max_retry": 120}))
    #: True when the YAML had no ``sampling`` section
    default: bool = True


@dataclass(frozen=True)
class Flow:
    name: str
    edges: tuple[Edge, ...]
    failures: tuple[Failure, ...] = ()
    propagate_parent: NodeSelector = False
    propagate_finished: NodeSelector = False
    propagate_compound_finished: NodeSelector = False
    propagate_node_args: NodeSelector = False
    node_args_from_first: bool = False
    nowait: frozenset[str] = frozenset()
    eager_failures: NodeSelector = False
    max_retry: int = 0
    retry_countdown: float = 0
    sampling: Sampling = field(default_factory=Sampling)
    #: minimum seconds between two starts of this flow (None: no throttling)
    throttling: float | None = None
    cache: CacheConfig | None = None
    #: the dispatcher queue after expansion / as written (None: the global default)
    queue: str | None = None
    queue_template: str | None = None

    @property
    def starting_edges(self) -> tuple[Edge, ...]:
        return tuple(e for e in self.edges if e.is_starting)

    def nodes(self) -> frozenset[str]:
        """Every node named in edges and fallbacks of this flow."""
        return frozenset(self.ordered_nodes())

    def ordered_nodes(self) -> tuple[str, ...]:
        """The flow's nodes in the order they first appear in edges, then failures (stable
        output for graphs and diffs)."""
        seen: dict[str, None] = {}
        for edge in self.edges:
            for name in (*edge.from_, *edge.to):
                seen.setdefault(name, None)
        for failure in self.failures:
            for name in failure.nodes_order or sorted(failure.nodes):
                seen.setdefault(name, None)
            if failure.fallback is not True:
                for name in failure.fallback:
                    seen.setdefault(name, None)
        return tuple(seen)


@dataclass(frozen=True)
class TraceEntry:
    """A ``global.trace`` entry: ``kind`` is logging, json, function, storage or sentry."""

    kind: Literal["logging", "json", "function", "storage", "sentry"]
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    options_template: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class GlobalConfig:
    predicates_module: str = "selinon_django.predicates"
    #: as written (a ``selinon.predicates`` name is kept for export)
    predicates_module_written: str | None = None
    default_task_queue: str = "celery"
    default_task_queue_template: str | None = None
    default_dispatcher_queue: str = "celery"
    default_dispatcher_queue_template: str | None = None
    trace: tuple[TraceEntry, ...] = ()
    migration_dir: str | None = None
    migration_dir_template: str | None = None


@dataclass(frozen=True)
class SourceFile:
    """A YAML file the configuration was read from, with its text (kept in the revision)."""

    path: str
    #: ``schema``: an ``output_schema`` file (JSON) the YAML names by this path
    role: Literal["nodes", "flows", "schema"]
    text: str


@dataclass(frozen=True)
class SystemConfig:
    """A whole configuration: what one revision in the database holds."""

    tasks: Mapping[str, Task]
    storages: Mapping[str, Storage]
    flows: Mapping[str, Flow]
    global_config: GlobalConfig = field(default_factory=GlobalConfig)
    sources: tuple[SourceFile, ...] = ()
    #: the ``triggers:`` section: ``{trigger task name: {"after": [...], "run": ..., ...}}``
    #: (frozen plain data; the default configuration of trigger sessions, see selinon_django.triggers)
    triggers: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: the ``schedules:`` section: ``{schedule name: {"flow": ..., "cron" | "interval" | "solar": ...}}``
    #: (frozen plain data as written; loaded into Celery beat's tables, see selinon_django.scheduling)
    schedules: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: every Python object the configuration names (derived from the rest: not compared)
    imports: tuple[ImportSite, ...] = field(default=(), compare=False)

    def node_kind(self, name: str) -> NodeKind:
        """``"task"`` or ``"flow"``; KeyError for an unknown name."""
        if name in self.tasks:
            return "task"
        if name in self.flows:
            return "flow"
        raise KeyError(name)

    def is_flow(self, name: str) -> bool:
        return name in self.flows

    def task_queue(self, task_name: str) -> str:
        return self.tasks[task_name].queue or self.global_config.default_task_queue

    def dispatcher_queue(self, flow_name: str) -> str:
        return self.flows[flow_name].queue or self.global_config.default_dispatcher_queue
