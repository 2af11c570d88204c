"""Throttling of run starts through DRF's own settings.

Starting a run is the one action that makes workers do work, so it gets its own scope,
``selinon_runs``: set ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["selinon_runs"] = "100/hour"``
to limit it per user. DRF's ``ScopedRateThrottle`` refuses to run without a rate for its scope;
this one lets everything through until a rate is configured, and reads the rates at request
time (DRF's class attribute is frozen at import, which ``override_settings`` cannot reach).
"""
from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

RUNS_SCOPE = "selinon_runs"


class RunStartThrottle(ScopedRateThrottle):
    def get_rate(self) -> str | None:
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        rate = rates.get(self.scope) if self.scope else None
        return str(rate) if rate else None
