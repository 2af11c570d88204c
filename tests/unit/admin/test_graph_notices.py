"""Admin pages say why a graph is missing (too big, too slow) and do not run ``dot`` again for it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client, override_settings

from selinon_django.models import ConfigRevision, FlowDefinition
from tests.unit.admin.conftest import make_run

pytestmark = pytest.mark.django_db

FLOWS = "/admin/selinon_django/flowdefinition/"
RUNS = "/admin/selinon_django/flowrun/"


@pytest.fixture(autouse=True)
def _own_cache() -> Iterator[None]:
    backend = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": f"notices-{uuid.uuid4()}"}
    with override_settings(CACHES={"default": backend}):
        yield
        caches["default"].clear()


def slow_dot(directory: Path) -> tuple[Path, Path]:
    """A ``dot`` that logs its start and never finishes in time."""
    log, program = directory / "dot.log", directory / "dot"
    program.write_text(f'#!/bin/sh\necho run >> "{log}"\nexec sleep 30\n')
    program.chmod(0o755)
    return program, log


def flow_page(client: Client, revision: ConfigRevision, name: str = "demo_main") -> str:
    flow = FlowDefinition.objects.get(revision=revision, name=name)
    response = client.get(f"{FLOWS}{flow.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_big_flow_shows_a_notice_instead_of_its_graph(revision: ConfigRevision, make_client: Any) -> None:
    client = make_client("viewer", "view_flowdefinition", "view_flowrun")
    with override_settings(SELINON_DJANGO={"GRAPH_MAX_NODES": 2}):
        page = flow_page(client, revision)
        assert "<svg class=\"selinon-svg\"" not in page
        assert "Graph too big to draw (" in page and "nodes, limit 2)" in page
        run = make_run(revision)
        run_page = client.get(f"{RUNS}{run.pk}/change/").content.decode()
        assert "Graph too big to draw (" in run_page
    assert '<svg class="selinon-svg"' in flow_page(client, revision)


def test_a_slow_graph_is_not_drawn_again_on_reload(
    revision: ConfigRevision, make_client: Any, tmp_path: Path
) -> None:
    client = make_client("viewer", "view_flowdefinition", "view_flowrun")
    program, log = slow_dot(tmp_path)
    with override_settings(SELINON_DJANGO={"DOT_PROGRAM": str(program), "GRAPH_RENDER_TIMEOUT": 0.3}):
        assert "dot took longer than 0.3 s" in flow_page(client, revision)
        assert "dot took longer than 0.3 s" in flow_page(client, revision)
        run = make_run(revision)
        assert "dot took longer than 0.3 s" in client.get(f"{RUNS}{run.pk}/change/").content.decode()
    assert log.read_text().splitlines() == ["run"]
