"""Django system checks for the ``SELINON_DJANGO`` setting and the environment it needs."""
from __future__ import annotations

from typing import Any

from django.core import checks


@checks.register("selinon_django")
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from selinon_django.conf import raw_settings

    errors: list[checks.CheckMessage] = []
    raw = raw_settings()
    if not isinstance(raw, dict):
        errors.append(checks.Error("SELINON_DJANGO must be a dict.", id="selinon_django.E001"))
    return errors
