"""Integration tests: every test here is marked ``integration``.

The worker fixtures (services, workers, live_workers, load_flows...) live in
``tests/worker_fixtures.py``, registered once for the whole session from ``tests/conftest.py``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.worker_fixtures import DISPATCHER_QUEUES, FLOWS_DIR, TASK_QUEUES

__all__ = ["DISPATCHER_QUEUES", "FLOWS_DIR", "TASK_QUEUES"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.integration)


