"""Paths and helpers shared by the model, command, graph and check tests."""

from __future__ import annotations

from pathlib import Path

from django.apps import apps

from selinon_django.config import load_config
from selinon_django.config.model import SystemConfig
from tests.conftest import EXAMPLES

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NODES = FIXTURES / "nodes.yaml"
FLOWS_DIR = FIXTURES / "flows"
MAIN_FLOW = FLOWS_DIR / "main.yaml"
ITEMS_FLOW = FLOWS_DIR / "items.yaml"
QUEUE_ENV = {"FIXTURE_QUEUE_PREFIX": "q"}

EXAMPLE_NAMES = ("docs_flow1", "fallback_in_subflow", "foreach_subflows")


def example_paths(name: str) -> tuple[Path, Path]:
    return EXAMPLES / name / "nodes.yaml", EXAMPLES / name / "flows.yaml"


def fixture_config(environ: dict[str, str] | None = None) -> SystemConfig:
    return load_config([NODES], [FLOWS_DIR], environ=QUEUE_ENV if environ is None else environ)


def example_config(name: str) -> SystemConfig:
    nodes, flows = example_paths(name)
    return load_config([nodes], [flows])


def row_counts() -> dict[str, int]:
    """Rows of every model of the app: a refused load must leave every number unchanged."""
    return {
        model.__name__: model._default_manager.count() for model in apps.get_app_config("selinon_django").get_models()
    }
