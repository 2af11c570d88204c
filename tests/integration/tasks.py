"""Tasks of the integration flows (imported by the worker processes).

Tasks that must behave differently on later attempts keep a counter in a file named after
their task id under ``SELINON_DJANGO_VAR_DIR`` (shared by the test and its workers).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from selinon_django.errors import FatalTaskError
from selinon_django.task import SelinonTask


def var_dir() -> Path:
    path = Path(os.environ.get("SELINON_DJANGO_VAR_DIR", "var")) / "integration"
    path.mkdir(parents=True, exist_ok=True)
    return path


def bump(name: str) -> int:
    """Increment and return a counter kept in a file (one process at a time per name)."""
    path = var_dir() / name
    count = int(path.read_text() or 0) + 1 if path.exists() else 1
    path.write_text(str(count))
    return count


class Noop(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return {"task": self.task_name, "ok": True}


class Echo(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return {"task": self.task_name, "node_args": node_args, "parent": self.parent}


class Sleep(SelinonTask):
    """Sleeps ``node_args["sleep"]`` seconds on its first attempt only (the crash test kills it)."""

    def run(self, node_args: Any) -> Any:
        if bump(f"sleep-{self.task_id}") == 1:
            marker = var_dir() / f"running-{self.dispatcher_id}"
            marker.write_text(self.task_id)
            time.sleep(float((node_args or {}).get("sleep", 30)))
        return {"slept": True}


class Flaky(SelinonTask):
    """Fails its first ``node_args["failures"]`` attempts (default 2), then succeeds."""

    def run(self, node_args: Any) -> Any:
        attempt = bump(f"flaky-{self.task_id}")
        if attempt <= int((node_args or {}).get("failures", 2)):
            raise RuntimeError(f"flaky failure {attempt}")
        return {"attempt": attempt}


class UserRetry(SelinonTask):
    """Asks for a retry (not counted) on its first attempt."""

    def run(self, node_args: Any) -> Any:
        if bump(f"user-retry-{self.task_id}") == 1:
            self.retry(0.2)
        return {"retried": True}


class AlwaysFail(SelinonTask):
    def run(self, node_args: Any) -> Any:
        raise ValueError("this task always fails")


class FailUnlessFlag(SelinonTask):
    """Fails until the file named by ``node_args["flag"]`` exists (the retry_flow test creates it)."""

    def run(self, node_args: Any) -> Any:
        if not (var_dir() / str((node_args or {}).get("flag", "flag"))).exists():
            raise RuntimeError("flag not set yet")
        return {"flag": True}


class Fatal(SelinonTask):
    def run(self, node_args: Any) -> Any:
        raise FatalTaskError("no retries for this one")


class Crash(SelinonTask):
    """Kills its own worker process every time."""

    def run(self, node_args: Any) -> Any:
        bump(f"crash-{self.task_id}")
        os._exit(1)


class Recover(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return {"recovered": True, "parent": self.parent}


def items(storage_pool: Any, node_args: Any) -> list[int]:
    """Foreach function: ``range(node_args["count"])``."""
    return list(range(int((node_args or {}).get("count", 3))))
