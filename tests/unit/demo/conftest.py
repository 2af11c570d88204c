"""Fixtures for the demo project's flows and tasks.

``demo_config`` loads ``demo_project/flows`` the way the demo does (``DEMO_QUEUE_PREFIX`` comes
from the environment; demo_project/settings.py defaults it to ``demo``). ``simulate`` runs a
flow on the real engine with the real demo task classes (see :mod:`tests.unit.demo.harness`).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from selinon_django.config import load_config
from selinon_django.config.model import SystemConfig
from tests.unit.demo.harness import DemoRun, run_demo_flow

REPO = Path(__file__).resolve().parents[3]
FLOWS_DIR = REPO / "demo_project" / "flows"
NODES = FLOWS_DIR / "nodes.yaml"
FLOW_FILES = FLOWS_DIR / "flows"
DEMO_ENV = {**os.environ, "DEMO_QUEUE_PREFIX": "demo"}


@pytest.fixture(scope="session")
def demo_config() -> SystemConfig:
    return load_config([NODES], [FLOW_FILES], environ=DEMO_ENV)


@pytest.fixture(autouse=True)
def attempts_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Markers of "failed once already" go to a fresh directory per test."""
    directory = tmp_path / "attempts"
    monkeypatch.setenv("DEMO_ATTEMPTS_DIR", str(directory))
    yield directory


@pytest.fixture
def simulate(demo_config: SystemConfig) -> Callable[..., DemoRun]:
    def run(flow_name: str, node_args: Any = None, **kwargs: Any) -> DemoRun:
        return run_demo_flow(demo_config, flow_name, node_args, **kwargs)

    return run
