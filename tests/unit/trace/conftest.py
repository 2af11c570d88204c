from __future__ import annotations

from collections.abc import Iterator

import pytest

from selinon_django.storages.pool import StoragePool
from selinon_django.trace import tracer


@pytest.fixture(autouse=True)
def fresh_pools() -> Iterator[None]:
    """Adapters and caches are process-wide: every test starts with none."""
    StoragePool.reset()
    yield
    StoragePool.reset()


@pytest.fixture(autouse=True)
def _no_foreign_process_backends(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No process-wide trace backends that other tests (the runtime's DB trace rows) left behind."""
    monkeypatch.setattr(tracer, "_process_backends", [])
    yield
