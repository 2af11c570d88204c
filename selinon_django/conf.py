"""The one place settings are read: ``settings.SELINON_DJANGO`` merged over the defaults.

Like DRF's ``api_settings``: ``selinon_settings().IMPORT_PREFIXES``. The object is rebuilt when
Django's ``setting_changed`` signal says the dict changed, so ``override_settings`` works in tests.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


@dataclass(frozen=True)
class SelinonSettings:
    #: module prefixes that ``import:`` keys in YAML may name (empty: nothing may be imported
    #: from an uploaded configuration; files loaded by a command are trusted unless STRICT_IMPORTS)
    IMPORT_PREFIXES: tuple[str, ...] = ()
    #: default ``-n`` of the commands (env SELINON_NODES_DEFINITION overrides)
    NODES_DEFINITION: str | None = None
    #: default ``-f`` of the commands: files or directories, ``:``-separated in the environment
    FLOW_DEFINITIONS: tuple[str, ...] = ()
    #: draw graphs with graphviz's ``dot`` (admin, API, selinon_plot)
    GRAPHS_ENABLED: bool = True
    #: path of the ``dot`` program (None: look it up on PATH)
    DOT_PROGRAM: str | None = None
    #: a graph (admin, API) with more nodes or edges than this is not drawn: a notice says so
    GRAPH_MAX_NODES: int = 1000
    GRAPH_MAX_EDGES: int = 3000
    #: seconds ``dot`` may take to draw one graph for a page or the API; then it is stopped
    GRAPH_RENDER_TIMEOUT: float = 5.0
    #: the ``CACHES`` alias keeping drawn definition graphs (one drawing per revision and flow)
    GRAPH_CACHE: str = "default"
    #: largest accepted ``node_args`` in bytes of JSON (REST API, admin form, commands)
    MAX_NODE_ARGS_BYTES: int = 1_000_000
    #: deepest nesting of JSON accepted from outside (REST bodies, the admin form, command
    #: arguments): node_args, trigger kwargs; checked before the JSON is parsed
    MAX_JSON_DEPTH: int = 64
    #: per flow name (or "*"): "pin" keeps a running flow on its revision, "migrate" moves it
    MIGRATION_POLICY: dict[str, str] = field(default_factory=lambda: {"*": "pin"})
    #: extra keyword arguments for the Celery app lookup; None uses celery.current_app
    CELERY_APP: str | None = None
    # --- the Celery runtime (selinon_django.runtime) ---
    #: a finishing task runs its flow's next dispatcher step itself (no dispatcher message) when
    #: the flow has at most INLINE_STEP_MAX_ACTIVE active nodes; False: every step runs on the
    #: dispatcher queue (dispatcher workers apart from task workers)
    INLINE_STEPS: bool = True
    INLINE_STEP_MAX_ACTIVE: int = 50
    #: ``run_flow`` runs the new run's first dispatcher step itself, in its own transaction, and
    #: publishes the first tasks (one broker hop less); False: it publishes a dispatcher message.
    #: The caller then needs the flow's user code that a first step calls (conditions on
    #: node_args, foreach and selective-run functions); a first step that raises falls back to
    #: the message, so the error is met, traced and retried where every other step's is.
    START_INLINE: bool = True
    #: a task whose step starts a successor on the queue the task's own message came from runs
    #: that successor itself, at once, in the same worker process (the successor's node-run row
    #: is written ``started`` by the statement that records the task's end: a chain's hop costs
    #: one statement and no broker round trip). At most one successor per step (the others are
    #: published), none with a countdown, a priority or time limits (the message's limits would
    #: cover it), and at most INLINE_SUCCESSORS_MAX in a row per message. False: every task
    #: goes through the broker, as in Selinon.
    RUN_SUCCESSORS_INLINE: bool = True
    INLINE_SUCCESSORS_MAX: int = 16
    #: a step starting many tasks on one queue (a big foreach) sends up to this many in one
    #: message, while it still sends at least MESSAGES_PER_STEP_MIN messages (so at least that
    #: many workers share them); the worker runs them one after the other, each with its own row,
    #: claim and outcome. 1: a message per task, as in Selinon. Tasks with a countdown, priority,
    #: rate limit or time limits always get their own message.
    TASKS_PER_MESSAGE: int = 16
    MESSAGES_PER_STEP_MIN: int = 128
    #: write trace events as TraceEventRecord rows
    TRACE_DATABASE: bool = True
    #: seconds between two sweeps (lost messages, due safety-net wake-ups) in each worker; 0: off
    SWEEP_INTERVAL: float = 2.0
    #: an unpublished outbox row / an unanswered wake-up older than this many seconds is resent
    SWEEP_GRACE: float = 5.0
    #: a node still "sent" after this many seconds is assumed lost by the broker and resent
    LOST_TASK_AFTER: float = 300.0
    #: a task whose worker died is run again at least this many times (more if max_retry allows)
    LOST_TASK_RETRIES: int = 1
    #: wake-ups due within this many seconds go as countdown messages; later ones via the sweeper
    COUNTDOWN_MESSAGE_LIMIT: float = 5.0
    #: refuse ``import:`` outside IMPORT_PREFIXES even for files loaded by a command
    STRICT_IMPORTS: bool = False
    #: graph style overrides (a mapping like a ``--style`` file, or the path of such a YAML file)
    GRAPH_STYLE: dict[str, Any] | str | None = None
    #: REST API: users (superusers excepted) see and act on only the runs they started
    API_RUNS_OWN_ONLY: bool = False
    #: environment variables ``{VAR}`` placeholders of an UPLOADED configuration may read (queues,
    #: storage configuration, a Sentry DSN); files loaded by a command read any variable
    UPLOAD_ENVIRONMENT: tuple[str, ...] = ()
    #: modules whose every public function is a predicate (Selinon predicate modules moved over
    #: unchanged); elsewhere a custom predicate must be declared (``@predicate`` or ``__predicates__``)
    PREDICATES_MODULES: tuple[str, ...] = ()
    #: largest ``output_schema`` file (bytes) a load reads
    MAX_SCHEMA_BYTES: int = 1_000_000
    # --- task logs and worker monitoring (selinon_django.runtime.task_logs, admin workers page) ---
    #: keep what tasks log (``self.log`` and standard ``logging`` on the task's thread) per node run
    TASK_LOGS: bool = True
    #: the lowest level kept (a level name); records must also pass the process's logging
    #: configuration (a Celery worker started with ``-l info`` passes INFO)
    TASK_LOG_LEVEL: str = "INFO"
    #: bytes of log text kept per node run (all attempts); what comes after is dropped and a
    #: marker line says how much
    TASK_LOG_MAX_BYTES: int = 262_144
    #: a running task's captured lines are written at least this often (seconds), in batches
    TASK_LOG_FLUSH_SECONDS: float = 1.0
    #: seconds the workers page (and ``selinon_run --wait`` on a timeout) waits for workers to answer
    WORKERS_INSPECT_TIMEOUT: float = 1.0
    # --- monitoring (selinon_django.observability; Celery's task events follow Celery's settings) ---
    #: every flow run a span and every node run a child span, through the TracerProvider the
    #: project configures (the ``otel`` extra: opentelemetry-sdk)
    OPENTELEMETRY: bool = False
    #: Prometheus counters and histograms of runs, nodes, steps, the sweeper and migrations (the
    #: ``prometheus`` extra), served by ``selinon/metrics/``; workers need PROMETHEUS_MULTIPROC_DIR
    PROMETHEUS: bool = False


_TUPLE_FIELDS = {"IMPORT_PREFIXES", "FLOW_DEFINITIONS", "UPLOAD_ENVIRONMENT", "PREDICATES_MODULES"}


def _build(raw: dict[str, Any]) -> SelinonSettings:
    known = {f.name for f in fields(SelinonSettings)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            continue  # reported by check selinon_django.E002
        if key in _TUPLE_FIELDS and isinstance(value, (list, tuple)):
            value = tuple(value)
        elif key in _TUPLE_FIELDS and isinstance(value, str):
            value = tuple(v for v in value.split(":") if v)
        values[key] = value
    return replace(SelinonSettings(), **values)


@lru_cache(maxsize=1)
def selinon_settings() -> SelinonSettings:
    raw = getattr(settings, "SELINON_DJANGO", {}) or {}
    return _build(dict(raw) if isinstance(raw, dict) else {})


def raw_settings() -> Any:
    """The setting as the user wrote it (for the system checks)."""
    return getattr(settings, "SELINON_DJANGO", {})


@receiver(setting_changed)
def _reset(setting: str, **_: Any) -> None:
    if setting == "SELINON_DJANGO":
        selinon_settings.cache_clear()
