from __future__ import annotations

from collections.abc import Iterator

import pytest

from selinon_django.storages.pool import StoragePool


@pytest.fixture(autouse=True)
def fresh_pools() -> Iterator[None]:
    """Adapters and caches are process-wide: every test starts with none."""
    StoragePool.reset()
    yield
    StoragePool.reset()
