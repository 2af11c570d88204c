"""Django system checks for the ``SELINON_DJANGO`` setting and the environment it needs.

Every mistake has a stable id so a deployment can silence one on purpose
(``SILENCED_SYSTEM_CHECKS``) and documentation can point at it:

- E001 the setting is not a dict
- E002 unknown key (with the closest known key as a hint)
- E003 a key has the wrong type
- E004 an IMPORT_PREFIXES entry is not a non-empty string
- E005 a MIGRATION_POLICY value is not ``pin`` or ``migrate`` (or its key is not a string)
- E006 graphs are enabled but the ``dot`` program is missing
- E007 MAX_NODE_ARGS_BYTES is not a positive number
- E008 GRAPH_STYLE cannot be used as a graph style
- E009 MAX_JSON_DEPTH is not between 1 and 500 (deeper JSON would exhaust the parsers' stack)
- E010 GRAPH_CACHE names no entry of CACHES
- E011 TASK_LOG_MAX_BYTES, TASK_LOG_FLUSH_SECONDS or WORKERS_INSPECT_TIMEOUT is out of its range
- E012 TASK_LOG_LEVEL is not a logging level name
- E013 OPENTELEMETRY is on but opentelemetry-sdk is not installed
- E014 PROMETHEUS is on but prometheus-client is not installed
- W001 no Celery broker is configured (Celery would fall back to amqp://localhost)
- W002 the configured NODES_DEFINITION file does not exist
- W003 a configured FLOW_DEFINITIONS path does not exist
- W004 the installed Celery release kills a worker that loses its broker while a late-acknowledged task runs
- W005-W008 the deployment around the app (result backend, connection reuse, SQLite locking, DEBUG):
  see :mod:`selinon_django.deployment_checks`
- W009 ``drf_spectacular_sidecar`` is not installed: the API's Swagger UI and Redoc pages would be blank
- W010 ``django_filters`` is not installed: the browsable API's list pages fail (their filter forms are its templates)
- W011 PROMETHEUS is on but PROMETHEUS_MULTIPROC_DIR names no directory: the metrics of a prefork
  worker's pool processes would not reach the scrape endpoint
"""

from __future__ import annotations

import difflib
import importlib.util
import logging
import os
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks

from selinon_django.conf import SelinonSettings, raw_settings, selinon_settings

_HINT = "See docs/reference/settings.md (the SELINON_DJANGO settings)."


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike))


def _is_path_list(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, (list, tuple)) and all(_is_path(v) for v in value))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_positive_int(value: Any) -> bool:
    return _is_int(value) and value >= 1


def _is_name_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) and v for v in value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


#: key -> (what it must be, test)
_TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "IMPORT_PREFIXES": ("a list of module prefixes", lambda v: isinstance(v, (list, tuple, str))),
    "NODES_DEFINITION": ("a path or None", lambda v: v is None or _is_path(v)),
    "FLOW_DEFINITIONS": ("a list of paths (or one ':'-separated string)", _is_path_list),
    "GRAPHS_ENABLED": ("a boolean", lambda v: isinstance(v, bool)),
    "DOT_PROGRAM": ("a program name or path, or None", lambda v: v is None or _is_path(v)),
    "GRAPH_MAX_NODES": ("an integer >= 1", _is_positive_int),
    "GRAPH_MAX_EDGES": ("an integer >= 1", _is_positive_int),
    "GRAPH_RENDER_TIMEOUT": ("a number of seconds > 0", lambda v: _is_number(v) and v > 0),
    "GRAPH_CACHE": ("the name of a CACHES entry", lambda v: isinstance(v, str)),
    "MAX_NODE_ARGS_BYTES": ("an integer", _is_int),
    "MAX_JSON_DEPTH": ("an integer", _is_int),
    "MIGRATION_POLICY": ("a dict {flow name or '*': 'pin' or 'migrate'}", lambda v: isinstance(v, dict)),
    "CELERY_APP": ("a dotted path or None", lambda v: v is None or isinstance(v, str)),
    "STRICT_IMPORTS": ("a boolean", lambda v: isinstance(v, bool)),
    "API_RUNS_OWN_ONLY": ("a boolean", lambda v: isinstance(v, bool)),
    "UPLOAD_ENVIRONMENT": ("a list of environment variable names", _is_name_list),
    "PREDICATES_MODULES": ("a list of module names", _is_name_list),
    "MAX_SCHEMA_BYTES": ("an integer >= 1", _is_positive_int),
    "INLINE_STEPS": ("a boolean", lambda v: isinstance(v, bool)),
    "START_INLINE": ("a boolean", lambda v: isinstance(v, bool)),
    "RUN_SUCCESSORS_INLINE": ("a boolean", lambda v: isinstance(v, bool)),
    "INLINE_SUCCESSORS_MAX": ("an integer", _is_int),
    "TASKS_PER_MESSAGE": ("an integer >= 1", _is_positive_int),
    "MESSAGES_PER_STEP_MIN": ("an integer >= 1", _is_positive_int),
    "TRACE_DATABASE": ("a boolean", lambda v: isinstance(v, bool)),
    "INLINE_STEP_MAX_ACTIVE": ("an integer", _is_int),
    "LOST_TASK_RETRIES": ("an integer", _is_int),
    "SWEEP_INTERVAL": ("a number of seconds", _is_number),
    "SWEEP_GRACE": ("a number of seconds", _is_number),
    "LOST_TASK_AFTER": ("a number of seconds", _is_number),
    "COUNTDOWN_MESSAGE_LIMIT": ("a number of seconds", _is_number),
    "TASK_LOGS": ("a boolean", lambda v: isinstance(v, bool)),
    "TASK_LOG_LEVEL": ("a logging level name", lambda v: isinstance(v, str)),
    "TASK_LOG_MAX_BYTES": ("an integer", _is_int),
    "TASK_LOG_FLUSH_SECONDS": ("a number of seconds", _is_number),
    "WORKERS_INSPECT_TIMEOUT": ("a number of seconds", _is_number),
    "OPENTELEMETRY": ("a boolean", lambda v: isinstance(v, bool)),
    "PROMETHEUS": ("a boolean", lambda v: isinstance(v, bool)),
    "GRAPH_STYLE": (
        "a style mapping, a path of a style YAML file, or None",
        lambda v: v is None or isinstance(v, (dict, str)),
    ),
}

MIGRATION_POLICIES = ("pin", "migrate")

#: key -> (lowest, highest, unit, why): numeric settings with a range (E011)
_RANGES: dict[str, tuple[float, float, str, str]] = {
    "TASK_LOG_MAX_BYTES": (1_024, 64 * 1024 * 1024, "bytes",
                           "Each node run keeps at most this much log text; the rows are read whole by the run page."),
    "TASK_LOG_FLUSH_SECONDS": (0.1, 60, "seconds",
                               "A running task's log lines reach the pages this often; 0 would write every line."),
    "WORKERS_INSPECT_TIMEOUT": (0.1, 30, "seconds",
                                "Pages wait this long for workers to answer; longer would hold a request open."),
}

#: the deepest MAX_JSON_DEPTH allowed: well below Python's default recursion limit (1,000), which
#: ``json``, ``copy.deepcopy`` and the database adapters spend a frame or more per level of
MAX_JSON_DEPTH_CEILING = 500


def _known_keys() -> list[str]:
    return [f.name for f in fields(SelinonSettings)]


@checks.register("selinon_django")
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The SELINON_DJANGO dict itself: shape, keys and value types."""
    raw = raw_settings()
    if raw is None:
        return []
    if not isinstance(raw, dict):
        return [
            checks.Error(
                f"SELINON_DJANGO must be a dict, not {type(raw).__name__}.", hint=_HINT, id="selinon_django.E001"
            )
        ]
    errors: list[checks.CheckMessage] = []
    known = _known_keys()
    for key, value in raw.items():
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"Did you mean {close[0]!r}?" if close else f"Known keys: {', '.join(sorted(known))}."
            errors.append(
                checks.Error(f"SELINON_DJANGO has an unknown key {key!r}.", hint=hint, id="selinon_django.E002")
            )
            continue
        expected = _TYPES.get(key)
        if expected is not None and not expected[1](value):
            errors.append(
                checks.Error(
                    f"SELINON_DJANGO[{key!r}] must be {expected[0]}, not {type(value).__name__}.",
                    id="selinon_django.E003",
                )
            )
            continue
        errors.extend(_check_value(key, value))
    return errors


def _check_value(key: str, value: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    if key == "IMPORT_PREFIXES" and isinstance(value, (list, tuple)):
        for index, prefix in enumerate(value):
            if not isinstance(prefix, str) or not prefix.strip():
                errors.append(
                    checks.Error(
                        f"SELINON_DJANGO['IMPORT_PREFIXES'][{index}] must be a non-empty string, not {prefix!r}.",
                        hint="Use module prefixes such as 'myproject.tasks.'.",
                        id="selinon_django.E004",
                    )
                )
    elif key == "MIGRATION_POLICY":
        for flow, policy in value.items():
            if not isinstance(flow, str) or policy not in MIGRATION_POLICIES:
                errors.append(
                    checks.Error(
                        f"SELINON_DJANGO['MIGRATION_POLICY'][{flow!r}] must be 'pin' or 'migrate', not {policy!r}.",
                        hint="Keys are flow names or '*'.",
                        id="selinon_django.E005",
                    )
                )
    elif key == "MAX_NODE_ARGS_BYTES" and value <= 0:
        errors.append(
            checks.Error(
                f"SELINON_DJANGO['MAX_NODE_ARGS_BYTES'] must be positive, not {value}.", id="selinon_django.E007"
            )
        )
    elif key == "MAX_JSON_DEPTH" and not 1 <= value <= MAX_JSON_DEPTH_CEILING:
        errors.append(
            checks.Error(
                f"SELINON_DJANGO['MAX_JSON_DEPTH'] must be between 1 and {MAX_JSON_DEPTH_CEILING}, not {value}.",
                hint="JSON nested deeper than Python's recursion limit allows crashes the code that walks it.",
                id="selinon_django.E009",
            )
        )
    elif key == "GRAPH_CACHE" and value not in settings.CACHES:
        errors.append(
            checks.Error(
                f"SELINON_DJANGO['GRAPH_CACHE'] is {value!r}, which is not an entry of CACHES.",
                hint="Drawn flow graphs are kept in that cache; name a configured alias such as 'default'.",
                id="selinon_django.E010",
            )
        )
    elif key in _RANGES and not _RANGES[key][0] <= value <= _RANGES[key][1]:
        low, high, unit, why = _RANGES[key]
        errors.append(
            checks.Error(
                f"SELINON_DJANGO[{key!r}] must be between {low:g} and {high:g} {unit}, not {value}.",
                hint=why,
                id="selinon_django.E011",
            )
        )
    elif key == "TASK_LOG_LEVEL" and not isinstance(logging.getLevelName(value.upper()), int):
        errors.append(
            checks.Error(
                f"SELINON_DJANGO['TASK_LOG_LEVEL'] must be a logging level name, not {value!r}.",
                hint="DEBUG, INFO, WARNING, ERROR or CRITICAL.",
                id="selinon_django.E012",
            )
        )
    elif key == "GRAPH_STYLE" and value is not None:
        from selinon_django.graph.style import GraphStyleError, load_style, merge_style

        try:
            if isinstance(value, str):
                load_style(value)
            else:
                merge_style(value)
        except GraphStyleError as exc:
            errors.append(checks.Error(f"SELINON_DJANGO['GRAPH_STYLE'] is not usable: {exc}", id="selinon_django.E008"))
    return errors


def _settings_are_valid() -> bool:
    raw = raw_settings()
    return raw is None or isinstance(raw, dict)


@checks.register("selinon_django")
def check_environment(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """What the settings point at: the broker, the ``dot`` program, the definition files."""
    if not _settings_are_valid():
        return []  # E001 already says what is wrong
    messages: list[checks.CheckMessage] = []
    raw = raw_settings() or {}
    conf = selinon_settings()

    broker = (
        getattr(settings, "CELERY_BROKER_URL", None)
        or getattr(settings, "BROKER_URL", None)
        or os.environ.get("CELERY_BROKER_URL")
    )
    if not broker and not conf.CELERY_APP:
        messages.append(
            checks.Warning(
                "No Celery broker is configured; Celery would try amqp://guest@localhost//.",
                hint="Set CELERY_BROKER_URL (for example redis://localhost:6379/0, or filesystem:// for a demo).",
                id="selinon_django.W001",
            )
        )

    graphs_enabled = raw.get("GRAPHS_ENABLED", True)
    dot_program = raw.get("DOT_PROGRAM")
    if graphs_enabled is True and (dot_program is None or _is_path(dot_program)):
        from selinon_django.graph.rendering import find_dot

        if find_dot(os.fspath(dot_program) if dot_program is not None else None) is None:
            wanted = os.fspath(dot_program) if dot_program is not None else "dot"
            messages.append(
                checks.Error(
                    f"GRAPHS_ENABLED is on but the graphviz program {wanted!r} was not found.",
                    hint="Install graphviz (apt-get install graphviz), set DOT_PROGRAM, or turn GRAPHS_ENABLED off.",
                    id="selinon_django.E006",
                )
            )

    nodes = raw.get("NODES_DEFINITION")
    if nodes is not None and _is_path(nodes) and not Path(nodes).is_file():
        messages.append(
            checks.Warning(
                f"SELINON_DJANGO['NODES_DEFINITION'] names {os.fspath(nodes)!r}, which is not a file.",
                hint="selinon_load and selinon_inspect use it when no -n option is given.",
                id="selinon_django.W002",
            )
        )
    for path in conf.FLOW_DEFINITIONS if _is_path_list(raw.get("FLOW_DEFINITIONS", ())) else ():
        if not Path(path).exists():
            messages.append(
                checks.Warning(
                    f"SELINON_DJANGO['FLOW_DEFINITIONS'] names {os.fspath(path)!r}, which does not exist.",
                    hint="selinon_load and selinon_inspect use it when no -f option is given.",
                    id="selinon_django.W003",
                )
            )
    messages.extend(_check_celery_release())
    messages.extend(_check_docs_assets())
    messages.extend(_check_filter_forms())
    messages.extend(_check_monitoring(raw))
    return messages


#: what each monitoring switch needs installed: (module found without importing it, package, extra, id)
_MONITORING_PACKAGES = {
    "OPENTELEMETRY": ("opentelemetry.sdk", "opentelemetry-sdk", "otel", "selinon_django.E013"),
    "PROMETHEUS": ("prometheus_client", "prometheus-client", "prometheus", "selinon_django.E014"),
}


def _check_monitoring(raw: dict[str, Any]) -> list[checks.CheckMessage]:
    """The monitoring switches (OPENTELEMETRY, PROMETHEUS) need their optional packages, and
    Prometheus in a prefork worker needs its multiprocess directory. Switches that are off import
    and look up nothing."""
    messages: list[checks.CheckMessage] = []
    for key, (module, package, extra, check_id) in _MONITORING_PACKAGES.items():
        if raw.get(key) is True and not module_available(module):
            messages.append(checks.Error(
                f"SELINON_DJANGO['{key}'] is on but {package} is not installed.",
                hint=f"pip install 'selinon-django[{extra}]', or turn {key} off.", id=check_id,
            ))
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if raw.get("PROMETHEUS") is True and not Path(directory or "/nonexistent-").is_dir():
        messages.append(checks.Warning(
            "SELINON_DJANGO['PROMETHEUS'] is on but the environment variable PROMETHEUS_MULTIPROC_DIR "
            f"{'names no directory (' + repr(directory) + ')' if directory else 'is not set'}: the metrics of a "
            "Celery worker's pool processes would not reach selinon/metrics/.",
            hint="Set PROMETHEUS_MULTIPROC_DIR to one empty, writable directory for the web processes and the "
                 "workers of a host (see docs/reference/events-and-metrics.md, Metrics).",
            id="selinon_django.W011",
        ))
    return messages


def module_available(name: str) -> bool:
    """Whether ``name`` can be imported; its parent packages are imported to find it only when they
    are there (a namespace package such as ``opentelemetry`` runs no code)."""
    top = name.partition(".")[0]
    if importlib.util.find_spec(top) is None:
        return False
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


#: the app whose static files are the API docs pages' scripts (see selinon_django.api.docs)
SIDECAR_APP = "drf_spectacular_sidecar"


def _check_docs_assets() -> list[checks.CheckMessage]:
    """The API's Swagger UI and Redoc pages (``selinon_django.urls``) load their scripts from the
    ``drf_spectacular_sidecar`` app's static files, never from a CDN: without the app they are blank."""
    if apps.is_installed(SIDECAR_APP):
        return []
    return [
        checks.Warning(
            f"{SIDECAR_APP!r} is not in INSTALLED_APPS: the API's Swagger UI and Redoc pages "
            "(selinon_django.urls) would be blank, their scripts are its static files.",
            hint=f"Add {SIDECAR_APP!r} to INSTALLED_APPS (the drf-spectacular-sidecar package is a dependency).",
            id="selinon_django.W009",
        )
    ]


#: the app whose templates are the REST API's filter forms (DjangoFilterBackend.to_html)
FILTERS_APP = "django_filters"


def _check_filter_forms() -> list[checks.CheckMessage]:
    """The API's lists filter through django-filter, whose backend renders the browsable API's
    filter form from a template of the ``django_filters`` app: without the app a list opened in a
    browser is a 500 (TemplateDoesNotExist), while JSON clients notice nothing."""
    if apps.is_installed(FILTERS_APP):
        return []
    return [
        checks.Warning(
            f"{FILTERS_APP!r} is not in INSTALLED_APPS: the browsable API's list pages (selinon_django.urls) "
            "fail, their filter forms are its templates.",
            hint=f"Add {FILTERS_APP!r} to INSTALLED_APPS (the django-filter package is a dependency).",
            id="selinon_django.W010",
        )
    ]


#: Celery releases whose worker exits on a broker connection loss while a late-acknowledged task
#: is unacknowledged: 5.7.0 closes the lost connection before the restart, and closing it makes
#: kombu's Redis channel restore the unacknowledged message through a connection that no longer
#: has its parameters (AttributeError, "Unrecoverable error"). Every selinon_django task is late
#: acknowledged, so one Redis restart stops every worker that had a task running.
_BROKEN_CELERY = frozenset({"5.7.0"})


def _check_celery_release() -> list[checks.CheckMessage]:
    import celery

    if celery.__version__ not in _BROKEN_CELERY:
        return []
    return [
        checks.Warning(
            f"Celery {celery.__version__} stops a worker that loses its broker connection while a task "
            "runs (kombu cannot restore the unacknowledged message after Celery closed the connection).",
            hint="Install celery 5.6.3 and kombu 5.6.2 (the versions in requirements.txt).",
            id="selinon_django.W004",
        )
    ]
