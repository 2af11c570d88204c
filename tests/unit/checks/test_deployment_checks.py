"""One test per deployment check (W005-W008), through Django's check framework and the worker's report.

The project's Celery app is chosen the way a project does it, ``SELINON_DJANGO["CELERY_APP"]``,
naming apps of this module configured from a settings-like object with the ``CELERY`` namespace
(as ``app.config_from_object("django.conf:settings", namespace="CELERY")`` does).
"""
from __future__ import annotations

import logging
import weakref
from types import SimpleNamespace
from typing import Any

import pytest
from celery import Celery
from celery.signals import worker_ready
from django.core import checks
from django.test import override_settings

from selinon_django import deployment_checks

OURS = {"selinon_django.W005", "selinon_django.W006", "selinon_django.W007", "selinon_django.W008"}

POSTGRES = {"ENGINE": "django.db.backends.postgresql", "NAME": "app", "CONN_MAX_AGE": 600}
SQLITE_SAFE = {
    "ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/app/db.sqlite3",
    "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
}


def celery_app(**celery_settings: Any) -> Celery:
    """A Celery app configured like a project's: ``CELERY_*`` names on a settings object."""
    app = Celery("deployment-checks", set_as_current=False)
    app.config_from_object(
        SimpleNamespace(CELERY_BROKER_URL="memory://", **{f"CELERY_{k}": v for k, v in celery_settings.items()}),
        namespace="CELERY",
    )
    return app


#: a project that follows the README
GOOD = celery_app(RESULT_BACKEND="django-db", DB_REUSE_MAX=1000)
NO_BACKEND = celery_app(DB_REUSE_MAX=1000)
NO_REUSE = celery_app(RESULT_BACKEND="django-db")
GOOD_ONE_PROCESS = celery_app(RESULT_BACKEND="django-db", DB_REUSE_MAX=1000, WORKER_CONCURRENCY=1)
GOOD_FOUR_PROCESSES = celery_app(RESULT_BACKEND="django-db", DB_REUSE_MAX=1000, WORKER_CONCURRENCY=4)
GOOD_SOLO = celery_app(RESULT_BACKEND="django-db", DB_REUSE_MAX=1000, WORKER_POOL="solo")


def found(app: str, databases: dict[str, Any] | None = None, deploy: bool = False, debug: bool = False
          ) -> list[checks.CheckMessage]:
    """What ``manage.py check [--deploy]`` says of ours for this Celery app and these databases."""
    with override_settings(
        SELINON_DJANGO={"CELERY_APP": f"{__name__}.{app}"}, DATABASES=databases or {"default": POSTGRES}, DEBUG=debug
    ):
        return [m for m in checks.run_checks(include_deployment_checks=deploy) if m.id in OURS]


def ids(*args: Any, **kwargs: Any) -> list[str]:
    return [m.id or "" for m in found(*args, **kwargs)]


pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")


def test_a_project_that_follows_the_readme_gets_none() -> None:
    assert ids("GOOD", deploy=True) == []
    assert ids("GOOD", {"default": SQLITE_SAFE}, deploy=True) == []


def test_w005_no_result_backend() -> None:
    (message,) = found("NO_BACKEND")
    assert message.id == "selinon_django.W005"
    assert "AsyncResult(run_id).get()" in message.msg
    assert message.hint is not None and "CELERY_RESULT_BACKEND = 'django-db'" in message.hint


def test_w006_celery_closes_connections_without_reuse_max() -> None:
    (message,) = found("NO_REUSE")
    assert message.id == "selinon_django.W006"
    assert "CELERY_DB_REUSE_MAX is not set" in message.msg and "CONN_MAX_AGE" not in message.msg


def test_w006_conn_max_age_zero_closes_them_too() -> None:
    (message,) = found("GOOD", {"default": {**POSTGRES, "CONN_MAX_AGE": 0}})
    assert message.id == "selinon_django.W006"
    assert "CONN_MAX_AGE is 0" in message.msg and "CELERY_DB_REUSE_MAX" not in message.msg
    # Django's default CONN_MAX_AGE is 0 as well
    assert ids("GOOD", {"default": {k: v for k, v in POSTGRES.items() if k != "CONN_MAX_AGE"}}) == [
        "selinon_django.W006"
    ]


def test_w006_a_connection_pool_needs_only_the_reuse_setting() -> None:
    pooled = {**POSTGRES, "CONN_MAX_AGE": 0, "OPTIONS": {"pool": True}}
    assert ids("GOOD", {"default": pooled}) == []
    assert ids("NO_REUSE", {"default": pooled}) == ["selinon_django.W006"]


def test_w006_sqlite_is_exempt() -> None:
    assert ids("NO_REUSE", {"default": {**SQLITE_SAFE, "CONN_MAX_AGE": 0}}) == []


@pytest.mark.parametrize(
    ("options", "missing"),
    [
        ({}, ["busy timeout", "immediate transactions"]),
        ({"timeout": 30}, ["immediate transactions"]),
        ({"transaction_mode": "IMMEDIATE"}, ["busy timeout"]),
        ({"timeout": 30, "transaction_mode": "DEFERRED"}, ["immediate transactions"]),
    ],
)
def test_w007_sqlite_without_timeout_or_immediate_transactions(options: dict[str, Any], missing: list[str]) -> None:
    database = {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/app/db.sqlite3", "OPTIONS": options}
    (message,) = found("GOOD", {"default": database})  # concurrency not configured: unknown
    assert message.id == "selinon_django.W007"
    assert all(what in message.msg for what in missing)
    assert "an unknown number of processes" in message.msg
    assert ids("GOOD_FOUR_PROCESSES", {"default": database}) == ["selinon_django.W007"]


def test_w007_not_for_one_worker_process_nor_an_in_memory_database() -> None:
    bare = {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/app/db.sqlite3"}
    assert ids("GOOD_ONE_PROCESS", {"default": bare}) == []
    assert ids("GOOD_SOLO", {"default": bare}) == []
    assert ids("GOOD", {"default": {**bare, "NAME": ":memory:"}}) == []


def test_w008_debug_is_a_deployment_check() -> None:
    (message,) = found("GOOD", deploy=True, debug=True)
    assert message.id == "selinon_django.W008"
    assert ids("GOOD", deploy=False, debug=True) == []  # not on every runserver
    assert ids("GOOD", deploy=True, debug=False) == []


def ready_worker(concurrency: int, pool: str = "celery.concurrency.prefork:TaskPool") -> Any:
    """What ``worker_ready`` sends: the consumer, whose controller is the WorkController."""
    return SimpleNamespace(controller=SimpleNamespace(concurrency=concurrency, pool_cls=pool))


def report(sender: Any, caplog: pytest.LogCaptureFixture, **settings: Any) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=deployment_checks.__name__), override_settings(**settings):
        deployment_checks.report_to_worker(sender=sender)
    return [record.getMessage() for record in caplog.records]


def test_a_worker_reports_its_warnings_with_its_real_concurrency(caplog: pytest.LogCaptureFixture) -> None:
    # the app config connects the report to Celery's worker_ready (the sweeper's signal)
    connected = [r() if isinstance(r, weakref.ReferenceType) else r for _, r in worker_ready.receivers]
    assert deployment_checks.report_to_worker in connected
    bare = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/app/db.sqlite3"}}
    project = {"SELINON_DJANGO": {"CELERY_APP": f"{__name__}.GOOD"}, "DATABASES": bare}
    (line,) = report(ready_worker(4), caplog, DEBUG=False, **project)
    assert "(selinon_django.W007)" in line and "run 4 processes" in line
    assert report(ready_worker(1), caplog, DEBUG=False, **project) == []
    assert report(ready_worker(8, "celery.concurrency.solo:TaskPool"), caplog, DEBUG=False, **project) == []
    (line,) = report(ready_worker(1), caplog, DEBUG=True, **project)
    assert "(selinon_django.W008)" in line
    silenced = report(ready_worker(1), caplog, DEBUG=True, SILENCED_SYSTEM_CHECKS=["selinon_django.W008"], **project)
    assert silenced == []
