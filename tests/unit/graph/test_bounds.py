"""Graphs are bounded (size, dot's time) and definition graphs are drawn once per revision.

``dot`` is replaced by small scripts that log each start, so the tests see how often it ran.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import caches
from django.test import override_settings

from selinon_django.config.model import SystemConfig
from selinon_django.graph import (
    GraphBeingDrawnError,
    GraphRenderError,
    GraphTimeoutError,
    GraphTooBigError,
    flow_digraph,
    render,
    render_flow_graph,
)
from selinon_django.graph.cache import DrawingCache, drawing_key
from tests.unit.commands.helpers import fixture_config

REAL_DOT = shutil.which("dot")
REVISION = (7, "ab" * 32)


class Dot:
    """A ``dot`` that logs every start (and then runs the real one, or sleeps)."""

    def __init__(self, directory: Path, *, sleep: bool = False) -> None:
        self.log = directory / "dot.log"
        self.path = directory / "dot"
        body = "exec sleep 30" if sleep else f'exec {REAL_DOT} "$@"'
        self.path.write_text(f'#!/bin/sh\necho run >> "{self.log}"\n{body}\n')
        self.path.chmod(0o755)

    @property
    def runs(self) -> int:
        return len(self.log.read_text().splitlines()) if self.log.exists() else 0


@pytest.fixture()
def dot(tmp_path: Path) -> Dot:
    return Dot(tmp_path)


@pytest.fixture()
def slow_dot(tmp_path: Path) -> Dot:
    return Dot(tmp_path, sleep=True)


@pytest.fixture(autouse=True)
def _own_cache() -> Iterator[None]:
    """A cache of this test's own, so no drawing or failure leaks between tests."""
    location = f"graphs-{uuid.uuid4()}"
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                               "LOCATION": location}}):
        yield
        caches["default"].clear()


@pytest.fixture()
def config() -> SystemConfig:
    return fixture_config()


def settings(program: Dot, **extra: object) -> dict[str, object]:
    return {"DOT_PROGRAM": str(program.path), **extra}


def test_a_graph_over_the_node_limit_is_refused_before_dot_runs(config: SystemConfig, dot: Dot) -> None:
    nodes = flow_digraph(config, "main").node_count
    with override_settings(SELINON_DJANGO=settings(dot, GRAPH_MAX_NODES=nodes - 1)):
        with pytest.raises(GraphTooBigError, match=rf"graph too big to draw \({nodes} nodes, limit {nodes - 1}\)"):
            render_flow_graph(config, "main")
        # cached as too big for this revision: asked again, nothing is built or run either
        for _ in range(2):
            with pytest.raises(GraphRenderError, match="too big"):
                render_flow_graph(config, "main", revision=REVISION)
    assert dot.runs == 0
    with override_settings(SELINON_DJANGO=settings(dot, GRAPH_MAX_NODES=nodes)):
        assert render_flow_graph(config, "main", revision=REVISION).startswith(b"<?xml")
    assert dot.runs == 1


def test_a_graph_over_the_edge_limit_is_refused(config: SystemConfig, dot: Dot) -> None:
    edges = flow_digraph(config, "main").edge_count
    with override_settings(SELINON_DJANGO=settings(dot, GRAPH_MAX_EDGES=edges - 1)), pytest.raises(
        GraphTooBigError, match=rf"\({edges} edges, limit {edges - 1}\)"
    ):
        render_flow_graph(config, "main", node_states={"Fetch": "failed"})
    assert dot.runs == 0


def test_dot_is_stopped_at_the_timeout_and_the_failure_is_kept(config: SystemConfig, slow_dot: Dot) -> None:
    with override_settings(SELINON_DJANGO=settings(slow_dot, GRAPH_RENDER_TIMEOUT=0.5)):
        started = time.monotonic()
        with pytest.raises(GraphTimeoutError, match=r"longer than 0\.5 s"):
            render_flow_graph(config, "main", revision=REVISION)
        assert time.monotonic() - started < 10  # dot was killed, not waited for (it sleeps 30 s)
        assert slow_dot.runs == 1
        # neither the definition graph nor a run's graph of that flow runs dot again for a while
        with pytest.raises(GraphRenderError, match=r"longer than 0\.5 s"):
            render_flow_graph(config, "main", revision=REVISION)
        with pytest.raises(GraphRenderError, match=r"longer than 0\.5 s"):
            render_flow_graph(config, "main", node_states={"Fetch": "running"}, revision=REVISION)
        assert slow_dot.runs == 1
        # another flow (or revision) is not affected
        with pytest.raises(GraphTimeoutError):
            render_flow_graph(config, "items", revision=REVISION)
        assert slow_dot.runs == 2


def test_a_run_graph_that_times_out_keeps_its_flow_from_running_dot_again(config: SystemConfig, slow_dot: Dot) -> None:
    with override_settings(SELINON_DJANGO=settings(slow_dot, GRAPH_RENDER_TIMEOUT=0.3)):
        for _ in range(3):
            with pytest.raises(GraphRenderError, match=r"longer than 0\.3 s"):
                render_flow_graph(config, "main", node_states={"Fetch": "running"}, revision=REVISION)
    assert slow_dot.runs == 1


def test_definition_graphs_are_drawn_once_per_revision_flow_and_style(config: SystemConfig, dot: Dot) -> None:
    with override_settings(SELINON_DJANGO=settings(dot)):
        first = render_flow_graph(config, "main", revision=REVISION)
        assert render_flow_graph(config, "main", revision=REVISION) == first
        assert dot.runs == 1
        render_flow_graph(config, "main", revision=(8, "ab" * 32))  # another revision
        render_flow_graph(config, "main", revision=(7, "cd" * 32))  # another content
        render_flow_graph(config, "items", revision=REVISION)  # another flow
        render_flow_graph(config, "main", "dot", revision=REVISION)  # another format
        render_flow_graph(config, "main", revision=REVISION, extra_style={"graph": {"bgcolor": "transparent"}})
        assert dot.runs == 6
    with override_settings(SELINON_DJANGO=settings(dot, GRAPH_STYLE={"task": {"fillcolor": "#000001"}})):
        assert b"#000001" in render_flow_graph(config, "main", revision=REVISION)
        assert dot.runs == 7


def test_run_graphs_are_not_cached(config: SystemConfig, dot: Dot) -> None:
    with override_settings(SELINON_DJANGO=settings(dot)):
        running = render_flow_graph(config, "main", node_states={"Fetch": "running"}, revision=REVISION)
        done = render_flow_graph(config, "main", node_states={"Fetch": "succeeded"}, revision=REVISION)
        assert running != done
        render_flow_graph(config, "main", node_states={"Fetch": "succeeded"}, revision=REVISION)
    assert dot.runs == 3


def test_the_cache_alias_is_a_setting(config: SystemConfig, dot: Dot) -> None:
    caches_setting = {
        "default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
        "graphs": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": f"g-{uuid.uuid4()}"},
    }
    with override_settings(CACHES=caches_setting, SELINON_DJANGO=settings(dot, GRAPH_CACHE="graphs")):
        render_flow_graph(config, "main", revision=REVISION)
        render_flow_graph(config, "main", revision=REVISION)
        assert dot.runs == 1
        caches["graphs"].clear()


def test_a_graph_being_drawn_is_not_drawn_twice_at_once() -> None:
    drawings = DrawingCache("default")
    key = drawing_key(REVISION, "main", {"format": "svg"})

    def draw() -> bytes:
        # a second request for the same graph while the first one is still drawing it
        with pytest.raises(GraphBeingDrawnError, match="being drawn"):
            drawings.drawing(key, lambda: b"second", lock_seconds=5)
        return b"first"

    assert drawings.drawing(key, draw, lock_seconds=5) == b"first"
    assert drawings.drawing(key, lambda: b"never", lock_seconds=5) == b"first"


def test_keys_hold_no_name_text() -> None:
    key = drawing_key(REVISION, "name with spaces\n and <things>" * 20, {"format": "svg"})
    assert len(key) < 250 and key.isascii() and " " not in key and "<" not in key


def test_render_without_limits_still_works(config: SystemConfig) -> None:
    assert render(flow_digraph(config, "main"), "svg").startswith(b"<?xml")
