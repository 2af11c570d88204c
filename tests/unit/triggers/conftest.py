"""Fixtures of the trigger unit tests: a loaded revision with ``triggers:`` and an in-process drain."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TRIGGER_YAML = Path(__file__).resolve().parents[2] / "integration" / "trigger_flows.yaml"


@pytest.fixture(autouse=True)
def _var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SELINON_DJANGO_VAR_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture(autouse=True)
def _fresh_config_cache() -> None:
    """Revision ids come back after a test's rollback; the runtime caches configs by id."""
    from selinon_django.runtime import configs

    with configs._lock:
        configs._cache.clear()


@pytest.fixture()
def revision(db: None) -> Any:
    from selinon_django.config import load_config
    from selinon_django.revisions import load_revision

    revision, _ = load_revision(load_config([TRIGGER_YAML], []))
    return revision


@pytest.fixture()
def drain(db: None) -> Callable[[], list[str]]:
    """Run every queued trigger-task message in-process until none is left; returns the outcomes.

    Test transactions never commit, so messages stay as outbox rows: this plays the worker.
    """
    from selinon_django.models import OutboxMessage
    from selinon_django.triggers import execution
    from selinon_django.triggers.manager import TRIGGER_TASK

    def run() -> list[str]:
        outcomes: list[str] = []
        for _ in range(100):
            rows = list(OutboxMessage.objects.filter(task_name=TRIGGER_TASK).order_by("pk"))
            if not rows:
                return outcomes
            OutboxMessage.objects.filter(pk__in=[r.pk for r in rows]).delete()
            for row in rows:
                outcomes.append(execution.handle_message(row.kwargs["instance_id"], row.kwargs["attempt"]))
        raise AssertionError("trigger tasks keep scheduling each other")

    return run
