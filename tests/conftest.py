"""Shared test fixtures. ``../shared/examples`` is put on ``sys.path`` so ``example_tasks`` imports."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
EXAMPLES = SHARED / "examples"
SPEC = SHARED / "spec"

if EXAMPLES.is_dir() and str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

# The worker fixtures (one pool of real Celery workers for the whole session), shared by the
# integration and the browser tests.
pytest_plugins = ["tests.worker_fixtures"]


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every message enqueued through the outbox during the test, recorded or not (messages a
    run's rows record get no outbox row, so tests of what was sent read them here)."""
    from selinon_django.runtime.unit_of_work import UnitOfWork

    messages: list[Any] = []
    original = UnitOfWork.enqueue

    def spy(unit: UnitOfWork, task_name: str, kwargs: dict[str, Any], **options: Any) -> Any:
        message = original(unit, task_name, kwargs, **options)
        messages.append(message)
        return message

    monkeypatch.setattr(UnitOfWork, "enqueue", spy)
    return messages


@pytest.fixture(autouse=True)
def _fresh_runtime_configs() -> Any:
    """Each test starts without the runtime's configurations cached by revision id: a rolled-back
    test database (SQLite) hands the same ids to the next test's different revisions."""
    yield
    from selinon_django.runtime.configs import forget_configs

    forget_configs()
