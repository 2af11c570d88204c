"""Monitoring that plugs into the ecosystem: OpenTelemetry traces (:mod:`.otel`) and Prometheus
metrics (:mod:`.metrics`, served by :mod:`.scrape`). Celery's own task events are the runtime's
(:mod:`selinon_django.runtime.task_events`).

Both are fed by what the runtime already produces - the trace events (as extra trace backends),
the ``flow_finished`` and ``swept`` signals, and the few hooks of
:mod:`selinon_django.runtime.observers` - so a process with both switched off runs exactly the
code it ran before: :func:`configure` imports neither module, nor OpenTelemetry nor
prometheus-client, unless its setting is on. It runs when the app is ready and again whenever
the ``SELINON_DJANGO`` setting changes (``override_settings`` in tests).
"""
from __future__ import annotations

import importlib
import logging
from typing import Any

from django.core.signals import setting_changed

from selinon_django.conf import selinon_settings

logger = logging.getLogger(__name__)

#: setting -> the module that installs it (imported only when the setting is on)
_MODULES = {"OPENTELEMETRY": "selinon_django.observability.otel", "PROMETHEUS": "selinon_django.observability.metrics"}
_active: dict[str, Any] = {}


def configure() -> None:
    """Install the monitoring the settings switch on and remove what they switch off."""
    settings = selinon_settings()
    for key, module_name in _MODULES.items():
        wanted = getattr(settings, key) is True  # (a non-boolean is check E003, not a switch)
        if wanted and key not in _active:
            try:
                # an optional dependency: imported only when its setting asks for it
                module = importlib.import_module(module_name)
            except ImportError as exc:
                logger.warning("SELINON_DJANGO[%r] is on but %s (check selinon_django.E013/E014); it stays off",
                               key, exc)
                continue
            module.install()
            _active[key] = module
        elif not wanted and key in _active:
            _active.pop(key).uninstall()


def _on_setting_changed(setting: str, **_: Any) -> None:
    if setting == "SELINON_DJANGO":
        configure()


setting_changed.connect(_on_setting_changed, dispatch_uid=f"{__name__}.configure")
