"""Which Celery application publishes the runtime's messages.

A reusable app must not create its own Celery app (the project owns broker settings, routes
and serializers). ``SELINON_DJANGO["CELERY_APP"]`` may name the project's app by dotted path
(``"myproject.celery.app"``); otherwise Celery's current app is used, which is the project's
app once its module has been imported (the standard ``__init__.py`` pattern).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.utils.module_loading import import_string

from selinon_django.conf import selinon_settings


@lru_cache(maxsize=4)
def _import_app(path: str) -> Any:
    return import_string(path)


def get_celery_app() -> Any:
    """The project's Celery app."""
    path = selinon_settings().CELERY_APP
    if path:
        return _import_app(path)
    from celery import current_app

    return current_app._get_current_object()  # type: ignore[attr-defined]
