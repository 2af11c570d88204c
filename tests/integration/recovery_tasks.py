"""Tasks of the recovery tests (tests/integration/test_recovery.py), imported by the workers.

Each one writes a line per attempt to a file named after its task id (or trigger instance) under
``SELINON_DJANGO_VAR_DIR``, so a test reads how often a body really ran, whatever the rows say.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from selinon_django.task import SelinonTask
from selinon_django.triggers.task import TaskContext, TriggerTask


def attempts_file(name: str) -> Path:
    path = Path(os.environ.get("SELINON_DJANGO_VAR_DIR", "var")) / "recovery"
    path.mkdir(parents=True, exist_ok=True)
    return path / name


def count_attempt(name: str) -> int:
    """Record one more attempt of ``name``; returns its number (1 for the first)."""
    path = attempts_file(name)
    with path.open("a") as handle:
        handle.write("x\n")
    return len(path.read_text().splitlines())


def attempts(name: str) -> int:
    path = attempts_file(name)
    return len(path.read_text().splitlines()) if path.exists() else 0


class SleepFirst(SelinonTask):
    """Sleeps ``node_args["sleep"]`` seconds on its first ``node_args["times"]`` attempts (default 1)."""

    def run(self, node_args: Any) -> Any:
        args = node_args or {}
        if count_attempt(self.task_id) <= int(args.get("times", 1)):
            time.sleep(float(args.get("sleep", 30)))
        return {"slept": True}


class Pause(SelinonTask):
    """Sleeps ``node_args["pause"]`` seconds on every attempt (a worker kept busy)."""

    def run(self, node_args: Any) -> Any:
        time.sleep(float((node_args or {}).get("pause", 0.2)))
        return {"paused": True}


class KillsItself(TriggerTask):
    """Kills its own worker process on every attempt."""

    max_retries = 2

    def _run(self, context: TaskContext) -> dict[str, Any]:
        count_attempt(context.instance_id)
        os._exit(1)


class Once(TriggerTask):
    """Records that it ran."""

    def _run(self, context: TaskContext) -> dict[str, Any]:
        count_attempt(context.instance_id)
        return {"ran": True}
