"""Scheduled flows: Celery beat (django-celery-beat) starts flows at their times.

Beat already knows crontabs, intervals and solar events, keeps its schedules in the database and
shows them in the admin; this app adds one Celery task (:mod:`selinon_django.runtime.scheduled`) that a beat
entry calls with a flow name and its ``node_args``, and the sync of a configuration's
``schedules:`` section into beat's ``PeriodicTask`` table. A schedule written in the admin (task
``selinon_django.scheduled_flow``, keyword arguments ``flow_name``, ``node_args``, ``on_overlap``)
works the same way.

Policies, per schedule:

- ``on_overlap: skip`` (default): a tick while the schedule's last run is still unfinished starts
  nothing (recorded as a skipped tick); ``queue``: it starts another run anyway.
- ``on_missed: run_once`` (default): beat, back after a downtime, runs a missed schedule once (not
  once per missed tick); ``skip``: a tick message not started within ``missed_grace`` seconds
  (default 60) of its due time expires (beat's ``expire_seconds``), so a late tick is dropped.

Optional: without ``django_celery_beat`` in ``INSTALLED_APPS`` a configuration without schedules
loads as before, and one with schedules is refused with a message saying what to install.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from django.apps import apps
from django.db import transaction

from selinon_django.config.model import SystemConfig, thaw
from selinon_django.config.schedules import DEFAULTS
from selinon_django.errors import ConfigIssue, ConfigurationError

__all__ = [
    "SCHEDULE_PREFIX", "SCHEDULE_TASK", "beat_installed", "describe_schedule", "sync_schedules", "write_schedule",
]

logger = logging.getLogger(__name__)

#: the Celery task beat entries call
SCHEDULE_TASK = "selinon_django.scheduled_flow"
#: beat entries made from a configuration's ``schedules:`` are named ``selinon:<name>``; a sync
#: replaces and removes only these
SCHEDULE_PREFIX = "selinon:"
#: seconds a tick may wait before it is dropped, for ``on_missed: skip`` without ``missed_grace``
DEFAULT_MISSED_GRACE = 60


def beat_installed() -> bool:
    return apps.is_installed("django_celery_beat")


def _schedule_object(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The beat schedule row a spec names (shared rows are reused, as beat's admin does)."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, SolarSchedule

    if "cron" in spec:
        minute, hour, day_of_month, month, day_of_week = spec["cron"].split()
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month, day_of_week=day_of_week,
            timezone=spec.get("timezone", DEFAULTS["timezone"]),
        )
        return {"crontab": crontab, "interval": None, "solar": None, "clocked": None}
    if "interval" in spec:
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=spec["interval"]["every"], period=spec["interval"]["period"]
        )
        return {"crontab": None, "interval": interval, "solar": None, "clocked": None}
    solar, _ = SolarSchedule.objects.get_or_create(
        event=spec["solar"]["event"], latitude=spec["solar"]["latitude"], longitude=spec["solar"]["longitude"]
    )
    return {"crontab": None, "interval": None, "solar": solar, "clocked": None}


def write_schedule(full_name: str, spec: Mapping[str, Any], description: str = "") -> bool:
    """Create or replace beat's entry ``full_name`` from a schedule spec (the YAML's shape,
    checked); returns whether it was created. Used by the sync and by the REST API."""
    from django_celery_beat.models import PeriodicTask

    spec = {**DEFAULTS, **spec}
    on_missed_skip = spec["on_missed"] == "skip"
    defaults = {
        **_schedule_object(spec),
        "task": SCHEDULE_TASK,
        "kwargs": json.dumps({
            "flow_name": spec["flow"], "node_args": spec.get("node_args"),
            "on_overlap": spec["on_overlap"], "schedule": full_name,
        }),
        "enabled": bool(spec["enabled"]),
        "expire_seconds": int(spec.get("missed_grace", DEFAULT_MISSED_GRACE)) if on_missed_skip else None,
        "description": description[:1000],
    }
    _, created = PeriodicTask.objects.update_or_create(name=full_name, defaults=defaults)
    return bool(created)


def describe_schedule(task: Any) -> dict[str, Any]:
    """A beat entry of this app in the YAML's shape (for the REST API)."""
    kwargs = json.loads(task.kwargs or "{}")
    spec: dict[str, Any] = {
        "flow": kwargs.get("flow_name"), "node_args": kwargs.get("node_args"),
        "on_overlap": kwargs.get("on_overlap", DEFAULTS["on_overlap"]), "enabled": task.enabled,
        "on_missed": "skip" if task.expire_seconds else "run_once",
    }
    if task.expire_seconds:
        spec["missed_grace"] = task.expire_seconds
    if task.crontab is not None:
        cron = task.crontab
        spec["cron"] = f"{cron.minute} {cron.hour} {cron.day_of_month} {cron.month_of_year} {cron.day_of_week}"
        spec["timezone"] = str(cron.timezone)
    elif task.interval is not None:
        spec["interval"] = {"every": task.interval.every, "period": task.interval.period}
    elif task.solar is not None:
        spec["solar"] = {"event": task.solar.event, "latitude": float(task.solar.latitude),
                         "longitude": float(task.solar.longitude)}
    return spec


def sync_schedules(config: SystemConfig, revision_number: int) -> list[str]:
    """Make beat's table hold exactly the configuration's schedules (``selinon:`` entries); returns
    what changed. Runs inside the caller's transaction (the revision's), so both land or neither.
    """
    if not beat_installed():
        if config.schedules:
            raise ConfigurationError([ConfigIssue("", "schedules", (
                "schedules need django-celery-beat: pip install 'selinon-django[beat]' and add "
                "'django_celery_beat' to INSTALLED_APPS"
            ))])
        return []
    from django_celery_beat.models import PeriodicTask, PeriodicTasks

    changes: list[str] = []
    wanted = {SCHEDULE_PREFIX + name: thaw(spec) for name, spec in config.schedules.items()}
    with transaction.atomic():
        for full_name, spec in sorted(wanted.items()):
            description = spec.get("description") or f"flow {spec['flow']}, from revision {revision_number}"
            created = write_schedule(full_name, spec, description)
            changes.append(f"{'created' if created else 'updated'} schedule {full_name}")
        stale = PeriodicTask.objects.filter(name__startswith=SCHEDULE_PREFIX, task=SCHEDULE_TASK).exclude(
            name__in=list(wanted)
        )
        removed = list(stale.values_list("name", flat=True))
        changes.extend(f"removed schedule {name}" for name in removed)
        if removed:
            stale.delete()
        if changes:
            PeriodicTasks.update_changed()  # tells a running beat to reload its schedule
    return changes
