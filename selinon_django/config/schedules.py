"""The ``schedules:`` section: flows started by Celery beat, checked without Django or Celery.

A schedule names a flow of the configuration, its ``node_args`` and exactly one of a crontab
(five fields), an interval or a solar event, as django-celery-beat offers them. The crontab is
parsed here field by field (ranges, lists, steps, month and weekday names) so a typo is a load
error with its key path, not a beat process that crashes at its next tick. Loading into beat's
tables is the Django layer's job (:mod:`selinon_django.scheduling`).
"""
from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from typing import Any

__all__ = ["DEFAULTS", "cron_problem", "schedule_problems"]

#: what a schedule does when the YAML does not say
DEFAULTS: Mapping[str, Any] = {"enabled": True, "on_overlap": "skip", "on_missed": "run_once", "timezone": "UTC"}

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
#: (field name, lowest, highest, names whose index + offset is their value)
_FIELDS: tuple[tuple[str, int, int, list[str], int], ...] = (
    ("minute", 0, 59, [], 0),
    ("hour", 0, 23, [], 0),
    ("day of month", 1, 31, [], 0),
    ("month", 1, 12, _MONTHS, 1),
    ("day of week", 0, 7, _DAYS, 0),
)
_ITEM = re.compile(r"^(?P<range>\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/(?P<step>\d+))?$")


def _value(text: str, low: int, high: int, names: list[str], offset: int) -> int | None:
    if text.isdigit() and text.isascii():
        number = int(text)
    elif text.lower() in names:
        number = names.index(text.lower()) + offset
    else:
        return None
    return number if low <= number <= high else None


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a five-field crontab (None: it is one)."""
    fields = expression.split()
    if len(fields) != 5:
        return f"a crontab has 5 fields (minute hour day-of-month month day-of-week), not {len(fields)}"
    for text, (name, low, high, names, offset) in zip(fields, _FIELDS, strict=True):
        for item in text.split(","):
            match = _ITEM.match(item)
            if match is None:
                return f"{name} field {text!r}: {item!r} is not a value, range or */step"
            step = match.group("step")
            if step is not None and not 1 <= int(step) <= high:
                return f"{name} field {text!r}: step {step} is out of range"
            if match.group("range") == "*":
                continue
            bounds = match.group("range").split("-")
            values = [_value(part, low, high, names, offset) for part in bounds]
            if any(value is None for value in values):
                return f"{name} field {text!r}: {item!r} is outside {low}-{high}"
            if len(values) == 2 and values[0] is not None and values[1] is not None and values[0] > values[1]:
                return f"{name} field {text!r}: the range {item!r} is empty"
    return None


def schedule_problems(raw: Mapping[str, Any], flows: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, message) for every problem of one schema-valid schedule entry."""
    problems: list[tuple[str, str]] = []
    if raw["flow"] not in flows:
        problems.append(("flow", f"'{raw['flow']}' is not a flow of this configuration"))
    if "cron" in raw:
        problem = cron_problem(raw["cron"])
        if problem is not None:
            problems.append(("cron", problem))
    timezone = raw.get("timezone")
    if timezone is not None:
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(("timezone", f"{timezone!r} is not a known time zone"))
    if "missed_grace" in raw and raw.get("on_missed", DEFAULTS["on_missed"]) != "skip":
        problems.append(("missed_grace", "only used with on_missed: skip"))
    return problems
