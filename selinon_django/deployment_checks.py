"""System checks of the deployment around the app: settings that work, but silently hurt.

Each was met by a user following the installation guide in a new project:

- W005 no Celery result backend: ``AsyncResult(run_id).get()`` raises ``NotImplementedError`` and
  the outcome of a run is stored nowhere Celery can read it.
- W006 workers close their database connection around every task: Celery's Django fixup closes
  every connection before and after each task unless ``CELERY_DB_REUSE_MAX`` is set, and the
  runtime closes a connection older than ``CONN_MAX_AGE`` (0, Django's default: every one). A
  new PostgreSQL connection costs more than a hop (20 small flows opened 103 connections). SQLite
  is exempt (opening its file is cheap); a psycopg pool (``OPTIONS["pool"]``) needs only the
  first (Celery closes a prefork worker's pool with its connections).
- W007 SQLite without a busy timeout and ``IMMEDIATE`` transactions while more than one worker
  process may write: a deferred transaction that upgrades to a write fails at once with
  "database is locked". Decided on the concurrency: the Celery app's ``worker_concurrency``
  (``solo`` pool: one); unset counts as more than one, as Celery then starts a process per CPU.
- W008 ``DEBUG`` on where a worker runs: Django keeps every query of a process that never ends a
  request, so the worker's memory grows with every task. A deployment check (``check --deploy``),
  and reported by the worker itself.

Celery runs the system checks when a worker starts but drops their messages, so the worker
reports what concerns it through :func:`report_to_worker` (``worker_ready``, connected by the app
config), with the concurrency the worker really has. ``SILENCED_SYSTEM_CHECKS`` applies there too.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core import checks

from selinon_django.runtime.celery_app import get_celery_app

logger = logging.getLogger(__name__)

NO_RESULT_BACKEND = "selinon_django.W005"
CONNECTIONS_CLOSED_PER_TASK = "selinon_django.W006"
SQLITE_LOCKING = "selinon_django.W007"
DEBUG_IN_WORKER = "selinon_django.W008"

#: the values the getting-started guide (docs/getting-started.md) sets
REUSE_MAX_HINT = "CELERY_DB_REUSE_MAX = 1000"
CONN_MAX_AGE_HINT = 600
SQLITE_OPTIONS_HINT = {"timeout": 30, "transaction_mode": "IMMEDIATE"}

_DISABLED_BACKENDS = (None, "", "disabled")


@checks.register("selinon_django")
def check_deployment(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The result backend, connection reuse and SQLite locking, read from the project's Celery app."""
    app = get_celery_app()
    return [
        *result_backend_messages(app),
        *connection_reuse_messages(app),
        *sqlite_locking_messages(configured_concurrency(app)),
    ]


@checks.register("selinon_django", deploy=True)
def check_debug(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``DEBUG`` in a deployment, where workers run (``manage.py check --deploy``)."""
    return debug_messages()


def result_backend_messages(app: Any) -> list[checks.CheckMessage]:
    if app.conf.result_backend not in _DISABLED_BACKENDS:
        return []
    return [
        checks.Warning(
            "No Celery result backend is configured: AsyncResult(run_id).get() raises NotImplementedError "
            "and run outcomes are not stored for Celery.",
            hint="Add 'django_celery_results' to INSTALLED_APPS and set CELERY_RESULT_BACKEND = 'django-db' "
            "(or another Celery result backend). If your settings do, the project's Celery app is not the one "
            "in use: import it in your project's __init__.py or name it in SELINON_DJANGO['CELERY_APP'].",
            id=NO_RESULT_BACKEND,
        )
    ]


def connection_reuse_messages(app: Any) -> list[checks.CheckMessage]:
    reuse_max = app.conf.get("CELERY_DB_REUSE_MAX")  # the key Celery's Django fixup reads
    messages: list[checks.CheckMessage] = []
    for alias, database in settings.DATABASES.items():
        if _is_sqlite(database):
            continue
        pooled = bool(_options(database).get("pool"))
        reasons = []
        if not reuse_max:
            reasons.append("CELERY_DB_REUSE_MAX is not set (Celery's Django fixup closes connections around each task)")
        if not pooled and database.get("CONN_MAX_AGE", 0) == 0:
            reasons.append("CONN_MAX_AGE is 0 (a connection is obsolete as soon as a task ends)")
        if reasons:
            messages.append(
                checks.Warning(
                    f"Celery workers open a new connection to database {alias!r} for every task: "
                    + "; ".join(reasons) + ".",
                    hint=f"Set {REUSE_MAX_HINT} and DATABASES[{alias!r}]['CONN_MAX_AGE'] = {CONN_MAX_AGE_HINT} "
                    "(not needed with OPTIONS['pool']): a new connection costs more than a task's hop.",
                    id=CONNECTIONS_CLOSED_PER_TASK,
                )
            )
    return messages


def sqlite_locking_messages(concurrency: int | None) -> list[checks.CheckMessage]:
    """SQLite files shared by more than one writer (``concurrency`` None: not known)."""
    if concurrency == 1:
        return []
    processes = "an unknown number of" if concurrency is None else str(concurrency)
    messages: list[checks.CheckMessage] = []
    for alias, database in settings.DATABASES.items():
        if not _is_sqlite(database) or _is_in_memory(database):
            continue
        options = _options(database)
        missing = []
        if options.get("timeout") is None:
            missing.append("a busy timeout (OPTIONS['timeout'])")
        if str(options.get("transaction_mode", "")).upper() != "IMMEDIATE":
            missing.append("immediate transactions (OPTIONS['transaction_mode'] = 'IMMEDIATE')")
        if missing:
            messages.append(
                checks.Warning(
                    f"SQLite database {alias!r} has no " + " and no ".join(missing) + f", and Celery workers run "
                    f"{processes} processes: concurrent dispatcher steps fail with 'database is locked'.",
                    hint=f"Set DATABASES[{alias!r}]['OPTIONS'] = {SQLITE_OPTIONS_HINT!r}, run one worker process "
                    "(CELERY_WORKER_CONCURRENCY = 1), or use PostgreSQL.",
                    id=SQLITE_LOCKING,
                )
            )
    return messages


def debug_messages() -> list[checks.CheckMessage]:
    if not settings.DEBUG:
        return []
    return [
        checks.Warning(
            "DEBUG is on: a Celery worker keeps every SQL query it runs in memory (Django's debug cursor), "
            "so its memory grows with every task.",
            hint="Run workers with DEBUG = False.",
            id=DEBUG_IN_WORKER,
        )
    ]


def configured_concurrency(app: Any) -> int | None:
    """The worker concurrency the project's Celery configuration sets (None: not set)."""
    if "solo" in str(app.conf.worker_pool or ""):
        return 1
    concurrency = app.conf.worker_concurrency
    return int(concurrency) if concurrency else None


def worker_concurrency(consumer: Any) -> int | None:
    """The number of processes (or threads) of the worker that sent ``worker_ready``."""
    controller = getattr(consumer, "controller", None)
    if controller is None:
        return None
    pool_cls = controller.pool_cls
    pool = pool_cls if isinstance(pool_cls, str) else getattr(pool_cls, "__module__", "")
    if "solo" in pool:
        return 1
    concurrency = getattr(controller, "concurrency", None)
    return int(concurrency) if concurrency else None


def report_to_worker(sender: Any = None, **kwargs: Any) -> None:
    """``worker_ready``: log this worker's deployment warnings (Celery drops the system checks')."""
    app = get_celery_app()
    found = [
        *result_backend_messages(app),
        *connection_reuse_messages(app),
        *sqlite_locking_messages(worker_concurrency(sender)),
        *debug_messages(),
    ]
    for message in found:
        if not message.is_silenced():
            logger.warning("%s", message)


def _options(database: Mapping[str, Any]) -> Mapping[str, Any]:
    return database.get("OPTIONS") or {}


def _is_sqlite(database: Mapping[str, Any]) -> bool:
    return str(database.get("ENGINE", "")).endswith("sqlite3")


def _is_in_memory(database: Mapping[str, Any]) -> bool:
    name = str(database.get("NAME", ""))
    return name == ":memory:" or "mode=memory" in name or name.startswith("file::memory:")
