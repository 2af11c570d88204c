"""Every documentation example and the demo configuration plots: each flow renders to SVG with dot."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from selinon_django.config import load_config
from selinon_django.config.model import SystemConfig
from selinon_django.graph import flow_digraph, render
from tests.conftest import REPO

DOCS = REPO / "tests" / "fixtures" / "config" / "docs"
DOCS_ENVIRON = {"DEPLOYMENT_PREFIX": "testing", "SENTRY_DSN": "http://key@sentry:9000/2"}
DOC_FILES = sorted(DOCS.glob("*.yaml"))
DEMO_FLOWS = REPO / "demo_project" / "flows"


def plot_all(config: SystemConfig) -> int:
    for name in config.flows:
        svg = render(flow_digraph(config, name), "svg")
        assert b"<svg" in svg, name
    return len(config.flows)


def test_the_documentation_corpus_is_there() -> None:
    assert len(DOC_FILES) >= 10


@pytest.mark.parametrize("file", DOC_FILES, ids=[f.name for f in DOC_FILES])
def test_docs_example_plots(file: Path) -> None:
    plot_all(load_config([file], [], environ=DOCS_ENVIRON))


def test_docs_intro_example_plots() -> None:
    assert plot_all(load_config([DOCS / "intro" / "nodes.yaml"], [DOCS / "intro"], environ={})) == 2


def test_demo_configuration_plots() -> None:
    config = load_config(
        [DEMO_FLOWS / "nodes.yaml"], [DEMO_FLOWS / "flows"], environ={**os.environ, "DEMO_QUEUE_PREFIX": "demo"}
    )
    assert plot_all(config) >= 15
