"""Second pass: schema-valid raw data of one or more files -> :mod:`model` objects.

Parsing assumes the schema held (types are right) and applies defaults, both spellings Selinon
accepts, ``{VAR}`` expansion and the ``selinon.`` import renames. Problems found here (a name
defined twice, an unset variable) are collected, not raised, so one load reports everything;
where something is wrong a usable placeholder is kept and the checks carry on.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from selinon_django.config.environ import MissingVariables, expand, expand_set, variables
from selinon_django.config.imports import (
    DEFAULT_PREDICATES_MODULE,
    DEFAULT_STRATEGIES_MODULE,
    resolve_class,
    resolve_module,
)
from selinon_django.config.model import (
    And,
    CacheConfig,
    Condition,
    Edge,
    Failure,
    Flow,
    Foreach,
    GlobalConfig,
    ImportKind,
    ImportRef,
    ImportSite,
    NodeSelector,
    Not,
    Or,
    Predicate,
    Sampling,
    Selective,
    Storage,
    Task,
    TraceEntry,
    freeze,
    thaw,
)
from selinon_django.config.schedules import schedule_problems
from selinon_django.config.schemas import SchemaProblem, SchemaSource
from selinon_django.config.trust import COMMAND, Trust
from selinon_django.config.validation import join_path
from selinon_django.errors import ConfigIssue

__all__ = ["DEFAULT_SAMPLING_ARGS", "Document", "Locations", "Parsed", "Where", "parse_documents"]

#: queue names: also file names on kombu's filesystem transport and keys on Redis, so no path
#: separators, spaces or control characters (a queue named "/etc/x" would create "/etc/x.exchange")
QUEUE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@\-]{0,199}")

#: the longest throttling interval (about 31 years): longer ones overflow dates
MAX_THROTTLING_SECONDS = 1_000_000_000

DEFAULT_SAMPLING_NAME = "biexponential_increase"
DEFAULT_SAMPLING_ARGS: Mapping[str, Any] = MappingProxyType({"start_retry": 2, "max_retry": 120})

#: seconds per throttling unit (Selinon's ``datetime.timedelta`` keys)
THROTTLING_UNITS: Mapping[str, float] = MappingProxyType(
    {
        "weeks": 7 * 86400,
        "days": 86400,
        "hours": 3600,
        "minutes": 60,
        "seconds": 1,
        "milliseconds": 1e-3,
        "microseconds": 1e-6,
    }
)


@dataclass(frozen=True)
class Document:
    """One file's parsed YAML (or a normalised dict) and the name it is reported under."""

    file: str
    data: Mapping[str, Any]
    role: Literal["nodes", "flows", "schema"] = "nodes"


@dataclass(frozen=True)
class Where:
    """Where an object was written: the file and its key path in that file."""

    file: str
    path: str

    def issue(self, suffix: str | int | None, message: str) -> ConfigIssue:
        path = self.path if suffix is None or suffix == "" else join_path(self.path, suffix)
        return ConfigIssue(self.file, path, message)

    def sub(self, suffix: str) -> Where:
        """A location below this one; ``suffix`` may be ``'edges[3].condition'``."""
        if suffix.startswith("["):
            return Where(self.file, self.path + suffix)
        return Where(self.file, f"{self.path}.{suffix}" if self.path else suffix)


@dataclass
class Locations:
    """Where each named object came from, for the checks' messages."""

    tasks: dict[str, Where] = field(default_factory=dict)
    storages: dict[str, Where] = field(default_factory=dict)
    flows_listed: dict[str, Where] = field(default_factory=dict)
    flows: dict[str, Where] = field(default_factory=dict)
    global_keys: dict[str, Where] = field(default_factory=dict)
    #: each parsed ``global.trace`` entry with where it was written
    trace_entries: list[tuple[TraceEntry, Where]] = field(default_factory=list)


@dataclass
class Parsed:
    tasks: dict[str, Task] = field(default_factory=dict)
    storages: dict[str, Storage] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)
    flows_listed: list[str] = field(default_factory=list)
    global_config: GlobalConfig = field(default_factory=GlobalConfig)
    locations: Locations = field(default_factory=Locations)
    issues: list[ConfigIssue] = field(default_factory=list)
    #: the ``triggers:`` section, plain data (``after`` always a list)
    triggers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the ``schedules:`` section, plain data as written
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: every Python object named, where (checked against the load's trust)
    imports: list[ImportSite] = field(default_factory=list)
    #: ``output_schema`` path as written -> the schema document
    output_schemas: dict[str, Any] = field(default_factory=dict)


def _as_tuple(value: Any) -> tuple[str, ...]:
    """A name, a list of names or nothing -> a tuple of names."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _selector(value: Any) -> NodeSelector:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    return frozenset(_as_tuple(value))


def throttling_seconds(raw: Mapping[str, Any] | None) -> float | None:
    """Total seconds of a ``throttling`` mapping; zero or absent means no throttling."""
    if not raw:
        return None
    total = sum(float(raw.get(unit, 0) or 0) * factor for unit, factor in THROTTLING_UNITS.items())
    if total <= 0:
        return None
    return int(total) if float(total).is_integer() else total


class _Parser:
    def __init__(self, trust: Trust, schemas: SchemaSource) -> None:
        self.trust = trust
        self.environ = trust.environ
        self.schemas = schemas
        self.out = Parsed()
        self.names: dict[str, tuple[str, Where]] = {}
        self.storage_names: dict[str, tuple[str, Where]] = {}

    # -- helpers -------------------------------------------------------------------------------
    def expand(self, template: str | None, where: Where, key: str) -> str | None:
        if template is None:
            return None
        try:
            return expand(template, self.environ)
        except MissingVariables as error:
            hint = f" ({self.trust.environ_hint})" if self.trust.environ_hint else ""
            self.out.issues.append(where.issue(key, error.describe() + hint))
            return template

    def queue(self, template: str | None, where: Where, key: str) -> str | None:
        """A queue name, expanded and checked against :data:`QUEUE_NAME`."""
        value = self.expand(template, where, key)
        if template is None or value is None:
            return value
        if value == template and variables(template):
            return value  # a variable is missing: reported by expand()
        if not QUEUE_NAME.fullmatch(value):
            self.out.issues.append(where.issue(key, (
                f"queue name {value!r} may hold only letters, digits and _ . : @ - (at most 200, "
                "starting with a letter, a digit or _)"
            )))
        return value

    def throttling(self, raw: Mapping[str, Any] | None, where: Where) -> float | None:
        seconds = throttling_seconds(raw)
        if seconds is not None and seconds > MAX_THROTTLING_SECONDS:
            self.out.issues.append(where.issue("throttling", f"longer than {MAX_THROTTLING_SECONDS} seconds"))
            return None
        return seconds

    def site(self, kind: ImportKind, module: str, name: str | None, where: Where, key: str = "") -> None:
        """Record a Python object the configuration names (every import goes through here)."""
        path = join_path(where.path, key) if key else where.path
        self.out.imports.append(ImportSite(path=path, kind=kind, module=module, name=name, file=where.file))

    def output_schema(self, path: str | None, where: Where) -> Any:
        if path is None:
            return None
        try:
            document = self.schemas.document(path)
        except SchemaProblem as problem:
            if self.schemas.required:
                self.out.issues.append(where.issue("output_schema", f"output schema {path!r} {problem}"))
            return None
        self.out.output_schemas[path] = document
        return document

    def claim(self, name: str, kind: str, where: Where) -> bool:
        """Register ``name`` in its name space; False (and an issue) if it is taken.

        Tasks and flows share one name space; storages have their own (the reference lets a
        storage carry a task's name).
        """
        names = self.storage_names if kind == "storage" else self.names
        if name in names:
            other_kind, other = names[name]
            if other_kind == kind:
                message = f"{kind} '{name}' is defined twice (first at {other.file}: {other.path})"
            else:
                message = (
                    f"name '{name}' is already used by a {other_kind} ({other.file}: {other.path}); "
                    "tasks, flows and storages share one name space"
                )
            self.out.issues.append(where.issue(None, message))
            return False
        names[name] = (kind, where)
        return True

    def cache(self, raw: Mapping[str, Any] | None, where: Where) -> CacheConfig | None:
        if not raw:
            return None
        module, name = resolve_class(raw["import"], raw["name"])
        self.site("cache class", module, name, where, "cache")
        return CacheConfig(name=name, module=module, configuration=freeze(dict(raw.get("configuration") or {})))

    # -- sections ------------------------------------------------------------------------------
    def task(self, raw: Mapping[str, Any], where: Where) -> None:
        name = raw["name"]
        if not self.claim(name, "task", where):
            return
        self.out.locations.tasks[name] = where
        selective = raw.get("selective_run_function")
        rate_limit = raw.get("rate_limit")
        if rate_limit is not None and not isinstance(rate_limit, str):
            rate_limit = str(rate_limit)
        queue_template = raw.get("queue")
        read_only = raw.get("storage_read_only", raw.get("storage_readonly", False))
        selective_ref = (
            ImportRef(module=selective["import"], name=selective.get("function") or selective["name"])
            if selective
            else None
        )
        classname = raw.get("classname") or name
        self.site("task class", raw["import"], classname, where, "import")
        if selective_ref is not None:
            self.site(
                "selective run function", selective_ref.module, selective_ref.name, where, "selective_run_function"
            )
        self.out.tasks[name] = Task(
            name=name,
            module=raw["import"],
            classname=classname,
            max_retry=raw.get("max_retry", 0) or 0,
            retry_countdown=raw.get("retry_countdown", 0) or 0,
            output_schema=raw.get("output_schema"),
            output_schema_document=freeze(self.output_schema(raw.get("output_schema"), where)),
            storage=raw.get("storage"),
            storage_read_only=bool(read_only),
            storage_task_name=raw.get("storage_task_name"),
            selective_run_function=selective_ref,
            queue=self.queue(queue_template, where, "queue"),
            queue_template=queue_template,
            throttling=self.throttling(raw.get("throttling"), where),
            time_limit=raw.get("time_limit"),
            soft_time_limit=raw.get("soft_time_limit"),
            rate_limit=rate_limit,
            priority=raw.get("priority"),
            cache=self.cache(raw.get("cache"), where),
        )

    def storage(self, raw: Mapping[str, Any], where: Where) -> None:
        name = raw["name"]
        if not self.claim(name, "storage", where):
            return
        self.out.locations.storages[name] = where
        module, classname = resolve_class(raw["import"], raw.get("classname") or name)
        self.site("storage class", module, classname, where, "import")
        template = dict(raw.get("configuration") or {})
        self.out.storages[name] = Storage(
            name=name,
            module=module,
            classname=classname,
            # placeholders whose variable is unset here stay for the worker to resolve
            configuration=freeze(expand_set(template, self.environ)),
            configuration_template=freeze(thaw(template)),
            cache=self.cache(raw.get("cache"), where),
        )

    def listed_flow(self, name: str, where: Where) -> None:
        if name in self.out.locations.flows_listed:
            first = self.out.locations.flows_listed[name]
            message = f"flow '{name}' is listed twice (first at {first.file}: {first.path})"
            self.out.issues.append(where.issue(None, message))
            return
        self.out.locations.flows_listed[name] = where
        self.out.flows_listed.append(name)

    def global_section(self, docs: Sequence[Document]) -> None:
        raw: dict[str, Any] = {}
        for doc in docs:
            section = doc.data.get("global") or {}
            for key, value in section.items():
                where = Where(doc.file, f"global.{key}")
                if key in raw:
                    first = self.out.locations.global_keys[key]
                    self.out.issues.append(where.issue(None, f"'global.{key}' is already set in {first.file}"))
                    continue
                raw[key] = value
                self.out.locations.global_keys[key] = where
        where_of = self.out.locations.global_keys

        def expanded(key: str, default: str | None) -> tuple[str | None, str | None]:
            template = raw.get(key)
            if template is None:
                return default, None
            value = self.expand(template, where_of[key], "")
            return value, template

        def queue(key: str) -> tuple[str | None, str | None]:
            template = raw.get(key)
            if template is None:
                return "celery", None
            return self.queue(template, where_of[key], ""), template

        task_queue, task_queue_template = queue("default_task_queue")
        dispatcher_queue, dispatcher_queue_template = queue("default_dispatcher_queue")
        migration_dir, migration_dir_template = expanded("migration_dir", None)
        if migration_dir_template is not None and self.trust.uploaded:
            self.out.issues.append(where_of["migration_dir"].issue(None, (
                "an uploaded configuration cannot set migration_dir (a directory on the server): "
                "pass selinon_migrate --migration-dir"
            )))
        written_predicates = raw.get("predicates_module")
        predicates_module = resolve_module(written_predicates) if written_predicates else DEFAULT_PREDICATES_MODULE
        if written_predicates:
            self.site("predicates module", predicates_module, None, where_of["predicates_module"])
        trace: list[TraceEntry] = []
        for index, entry in enumerate(raw.get("trace") or ()):
            entry_where = where_of["trace"].sub(f"[{index}]")
            trace_entry = self.trace_entry(entry, entry_where)
            if trace_entry is not None:
                trace.append(trace_entry)
                self.out.locations.trace_entries.append((trace_entry, entry_where))
        self.out.global_config = GlobalConfig(
            predicates_module=predicates_module,
            predicates_module_written=written_predicates,
            default_task_queue=task_queue or "celery",
            default_task_queue_template=task_queue_template,
            default_dispatcher_queue=dispatcher_queue or "celery",
            default_dispatcher_queue_template=dispatcher_queue_template,
            trace=tuple(trace),
            migration_dir=migration_dir,
            migration_dir_template=migration_dir_template,
        )

    def trace_entry(self, entry: Mapping[str, Any], where: Where) -> TraceEntry | None:
        ((kind, value),) = entry.items()
        if kind == "logging":
            return TraceEntry(kind="logging") if value else None
        if kind == "json":
            return TraceEntry(kind="json") if value else None
        if kind == "function":
            options = {"name": value["name"], "import": value["import"]}
            self.site("trace function", value["import"], value["name"], where, "function")
            return TraceEntry(kind="function", options=freeze(options), options_template=freeze(options))
        if kind == "storage":
            options = {"name": value["name"], "method": value["method"]}
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", value["method"]):
                message = f"{value['method']!r} is not a public method name"
                self.out.issues.append(where.issue("storage.method", message))
            return TraceEntry(kind="storage", options=freeze(options), options_template=freeze(options))
        if self.trust.uploaded and not re.fullmatch(r"\{[A-Za-z_][A-Za-z0-9_]*\}", value["dsn"]):
            # a literal DSN would send every traced event (node arguments, results' metadata)
            # to a server of the uploader's choice
            self.out.issues.append(where.issue("sentry.dsn", (
                "an uploaded configuration names a Sentry DSN only as one {VARIABLE} the server offers"
            )))
        dsn = self.expand(value["dsn"], where, "sentry.dsn")
        return TraceEntry(kind="sentry", options=freeze({"dsn": dsn}), options_template=freeze({"dsn": value["dsn"]}))

    def condition(self, raw: Mapping[str, Any] | None) -> tuple[Condition, bool]:
        """(condition, whether it was left out)."""
        if raw is None:
            # the built-in module even when a custom one is configured: it need not define alwaysTrue
            return Predicate(name="alwaysTrue", module=DEFAULT_PREDICATES_MODULE), True
        return self.condition_tree(raw), False

    def condition_tree(self, raw: Mapping[str, Any]) -> Condition:
        if "and" in raw:
            return And(tuple(self.condition_tree(child) for child in raw["and"]))
        if "or" in raw:
            return Or(tuple(self.condition_tree(child) for child in raw["or"]))
        if "not" in raw:
            return Not(self.condition_tree(raw["not"]))
        return Predicate(
            name=raw["name"],
            node=raw.get("node"),
            args=freeze(dict(raw.get("args") or {})),
            module=self.out.global_config.predicates_module,
        )

    def sampling(self, raw: Mapping[str, Any] | None, where: Where) -> Sampling:
        if raw is None:
            return Sampling()
        name = raw.get("name") or DEFAULT_SAMPLING_NAME
        module = resolve_module(raw["import"]) if raw.get("import") else DEFAULT_STRATEGIES_MODULE
        self.site("sampling strategy", module, name, where, "sampling")
        if raw.get("args") is not None:
            args: Mapping[str, Any] = dict(raw["args"])
        elif name == DEFAULT_SAMPLING_NAME and module == DEFAULT_STRATEGIES_MODULE:
            args = DEFAULT_SAMPLING_ARGS
        else:
            args = {}
        return Sampling(name=name, module=module, args=freeze(dict(args)), default=False)

    def flow(self, raw: Mapping[str, Any], where: Where) -> None:
        name = raw["name"]
        if not self.claim(name, "flow", where):
            return
        self.out.locations.flows[name] = where
        edges = []
        for index, raw_edge in enumerate(raw.get("edges") or ()):
            condition, default = self.condition(raw_edge.get("condition"))
            foreach = raw_edge.get("foreach")
            selective = raw_edge.get("selective")
            if foreach:
                self.site("foreach function", foreach["import"], foreach["function"], where, f"edges[{index}].foreach")
            edges.append(
                Edge(
                    index=index,
                    from_=_as_tuple(raw_edge.get("from")),
                    to=_as_tuple(raw_edge.get("to")),
                    condition=condition,
                    condition_default=default,
                    foreach=(
                        Foreach(
                            function=ImportRef(module=foreach["import"], name=foreach["function"]),
                            propagate_result=bool(foreach.get("propagate_result", False)),
                        )
                        if foreach
                        else None
                    ),
                    selective=(
                        Selective(
                            tasks=_as_tuple(selective["tasks"]),
                            follow_subflows=bool(selective.get("follow_subflows", False)),
                            run_subsequent=bool(selective.get("run_subsequent", False)),
                        )
                        if selective
                        else None
                    ),
                )
            )
        failures = []
        for raw_failure in raw.get("failures") or ():
            condition, default = self.condition(raw_failure.get("condition"))
            fallback = raw_failure["fallback"]
            nodes_order = _as_tuple(raw_failure["nodes"])
            failures.append(
                Failure(
                    nodes=frozenset(nodes_order),
                    fallback=True if fallback is True else _as_tuple(fallback),
                    condition=condition,
                    condition_default=default,
                    nodes_order=nodes_order,
                )
            )
        nowait_raw = raw.get("nowait")
        if nowait_raw is True:
            started = {node for edge in edges for node in edge.to}
            started.update(n for f in failures if f.fallback is not True for n in f.fallback)
            nowait = frozenset(started)
        else:
            nowait = frozenset(_as_tuple(nowait_raw)) if nowait_raw else frozenset()
        queue_template = raw.get("queue")
        self.out.flows[name] = Flow(
            name=name,
            edges=tuple(edges),
            failures=tuple(failures),
            propagate_parent=_selector(raw.get("propagate_parent")),
            propagate_finished=_selector(raw.get("propagate_finished")),
            propagate_compound_finished=_selector(raw.get("propagate_compound_finished")),
            propagate_node_args=_selector(raw.get("propagate_node_args")),
            node_args_from_first=bool(raw.get("node_args_from_first", False)),
            nowait=nowait,
            eager_failures=_selector(raw.get("eager_failures")),
            max_retry=raw.get("max_retry", 0) or 0,
            retry_countdown=raw.get("retry_countdown", 0) or 0,
            sampling=self.sampling(raw.get("sampling"), where),
            throttling=self.throttling(raw.get("throttling"), where),
            cache=self.cache(raw.get("cache"), where),
            queue=self.queue(queue_template, where, "queue"),
            queue_template=queue_template,
        )


def parse_documents(docs: Sequence[Document], trust: Trust = COMMAND, schemas: SchemaSource | None = None) -> Parsed:
    """Build the model objects of every document (schema-valid) and collect parse issues."""
    parser = _Parser(trust, schemas if schemas is not None else SchemaSource(required=False))
    # global first: conditions need the predicates module
    parser.global_section(docs)
    for doc in docs:
        for index, raw in enumerate(doc.data.get("storages") or ()):
            parser.storage(raw, Where(doc.file, f"storages[{index}]"))
    for doc in docs:
        for index, raw in enumerate(doc.data.get("tasks") or ()):
            parser.task(raw, Where(doc.file, f"tasks[{index}]"))
    for doc in docs:
        for index, name in enumerate(doc.data.get("flows") or ()):
            parser.listed_flow(name, Where(doc.file, f"flows[{index}]"))
    for doc in docs:
        for index, raw in enumerate(doc.data.get("flow-definitions") or ()):
            parser.flow(raw, Where(doc.file, f"flow-definitions[{index}]"))
    trigger_where: dict[str, Where] = {}
    for doc in docs:
        for name, raw in (doc.data.get("triggers") or {}).items():
            _trigger_task(parser, name, raw, Where(doc.file, f"triggers.{name}"), trigger_where)
    schedule_where: dict[str, Where] = {}
    for doc in docs:
        for name, raw in (doc.data.get("schedules") or {}).items():
            _schedule(parser, name, raw, Where(doc.file, f"schedules.{name}"), schedule_where)
    return parser.out


def _first_definition(out: Parsed, seen: dict[str, Where], what: str, name: str, where: Where) -> bool:
    """Record where ``name`` is defined; False (and an issue) when it was defined before."""
    if name in seen:
        first = seen[name]
        out.issues.append(where.issue(None, f"{what} is defined twice (first at {first.file}: {first.path})"))
        return False
    seen[name] = where
    return True


def _schedule(parser: _Parser, name: str, raw: Mapping[str, Any], where: Where, seen: dict[str, Where]) -> None:
    """One ``schedules:`` entry (see :mod:`selinon_django.config.schedules`)."""
    out = parser.out
    if not _first_definition(out, seen, f"schedule '{name}'", name, where):
        return
    if parser.trust.uploaded:
        # a schedule starts runs with nobody's permission to start runs: an operator's decision
        out.issues.append(where.issue(None, "an uploaded configuration cannot declare schedules (load it with "
                                            "selinon_load, or manage schedules in the admin)"))
        return
    problems = schedule_problems(raw, out.flows)
    out.issues.extend(where.issue(key, message) for key, message in problems)
    if not problems:
        out.schedules[name] = thaw(raw)


def _trigger_task(parser: _Parser, name: str, raw: Mapping[str, Any], where: Where, seen: dict[str, Where]) -> None:
    """One ``triggers:`` entry; ``run`` must name a flow of this configuration or a dotted path."""
    out = parser.out
    if not _first_definition(out, seen, f"trigger task '{name}'", name, where):
        return
    run = raw["run"]
    if run not in out.flows and "." not in run:
        out.issues.append(where.issue(
            "run", f"'{run}' is neither a flow of this configuration nor a dotted 'module.Class' path"
        ))
        return
    if run not in out.flows:
        module, _, classname = run.rpartition(".")
        parser.site("trigger task class", module, classname, where, "run")
    if raw.get("queue") is not None:
        parser.queue(raw["queue"], where, "queue")
    spec = dict(raw)
    spec["after"] = list(_as_tuple(raw["after"]))
    out.triggers[name] = spec
