from __future__ import annotations

import pytest

from selinon_django.management.options import ENV_FLOWS, ENV_NODES


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No definition paths leak in from the developer's shell; the fixture's queue variable is set."""
    monkeypatch.delenv(ENV_NODES, raising=False)
    monkeypatch.delenv(ENV_FLOWS, raising=False)
    monkeypatch.setenv("FIXTURE_QUEUE_PREFIX", "q")
