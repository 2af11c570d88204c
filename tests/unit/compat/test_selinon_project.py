"""An existing Selinon worker's unchanged modules (tests/fixtures/selinon_project) run their flow.

In-process: every message the runtime publishes is captured and served here by the production
dispatcher step and task envelope (tests/unit/broker.py); the integration test runs the same
project on a real worker. The project's predicates module is trusted through the
``PREDICATES_MODULES`` setting, its queues and results directory come from the environment.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import current_app
from django.test import override_settings

from selinon_django.config import SourceFile
from selinon_django.models import NodeRun
from selinon_django.storages.pool import StoragePool
from tests.unit.broker import CapturedBroker, install

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT = Path(__file__).resolve().parents[2] / "fixtures" / "selinon_project"


def project_sources() -> list[SourceFile]:
    return [SourceFile(str(PROJECT / "nodes.yaml"), "nodes", (PROJECT / "nodes.yaml").read_text()),
            SourceFile(str(PROJECT / "flows.yaml"), "flows", (PROJECT / "flows.yaml").read_text())]


@pytest.fixture
def pages(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "index.html").write_text("<html><body><p>three small words</p></body></html>")
    (tmp_path / "pages" / "notes.txt").write_text("plain text is not counted")
    return {name: f"file://{tmp_path / 'pages' / name}" for name in ("index.html", "notes.txt")}


@pytest.fixture
def project(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[CapturedBroker]:
    monkeypatch.syspath_prepend(str(PROJECT))
    monkeypatch.setenv("URLWORKER_QUEUE", "urlworker_tasks")
    monkeypatch.setenv("URLWORKER_DISPATCHER_QUEUE", "urlworker_dispatcher")
    monkeypatch.setenv("URLWORKER_RESULTS_DIR", str(tmp_path / "results"))
    StoragePool.reset()
    with override_settings(SELINON_DJANGO={"PREDICATES_MODULES": ["urlworker.predicates"]}):
        yield install(monkeypatch, project_sources())
    StoragePool.reset()


def test_the_unchanged_project_runs_its_flow(project: CapturedBroker, pages: dict[str, str], tmp_path: Path) -> None:
    import selinon

    handle = selinon.run_flow("crawl", {"urls": [pages["index.html"], pages["notes.txt"], pages["index.html"]]})
    project.drain()

    # Selinon's run_flow returned an AsyncResult: .id and .get() as there
    assert handle.id == str(handle)
    state = handle.get(timeout=10)
    assert sorted(state["finished_nodes"]) == ["CollectUrls", "Report", "fetch_page"]
    assert len(state["finished_nodes"]["fetch_page"]) == 2 and state["failed_nodes"] == {}

    runs = Counter(NodeRun.objects.filter(status="succeeded").values_list("name", flat=True))
    # the custom predicate let only the HTML page through to CountWords
    assert runs == Counter({"CollectUrls": 1, "fetch_page": 2, "FetchPage": 2, "CountWords": 1, "Report": 2})
    reports = sorted((r["url"], r["words"]) for r in NodeRun.objects.filter(name="Report").values_list(
        "result", flat=True))
    assert reports == [(pages["index.html"], 3), (pages["notes.txt"], None)]

    # the custom storage holds every result, and Selinon's class-level StoragePool reads it
    # outside a task too (from the current revision)
    results = StoragePool.get_connected_storage("Results")
    assert type(results).__module__ == "urlworker.storages"
    assert results.count("FetchPage") == 2 and results.count("Report") == 2
    assert len(list((tmp_path / "results").glob("*.json"))) == 6  # one per task run


def test_the_workers_entry_point_runs_and_says_when_its_yaml_is_not_loaded(
    project: CapturedBroker, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """``urlworker/worker.py`` calls Config.set_celery_app and Config.set_config_yaml on import."""
    import importlib
    import sys

    from selinon import Config

    previous_app = current_app._get_current_object()  # type: ignore[attr-defined]
    sys.modules.pop("urlworker.worker", None)
    try:
        with caplog.at_level(logging.WARNING, logger="selinon_django.compat.config"):
            worker = importlib.import_module("urlworker.worker")
    finally:
        previous_app.set_current()  # the entry point made its own Celery app current
        sys.modules.pop("urlworker.worker", None)
    assert Config.celery_app is worker.app
    assert Config.check_loaded() is True and not caplog.records  # its YAML is the current revision

    changed = tmp_path / "flows.yaml"
    changed.write_text((PROJECT / "flows.yaml").read_text().replace("to: 'Report'", "to: 'CollectUrls'"))
    with caplog.at_level(logging.WARNING, logger="selinon_django.compat.config"):
        Config.set_config_yaml(str(PROJECT / "nodes.yaml"), [str(changed)])
    assert Config.check_loaded() is False
    assert any("differs from the current revision" in r.getMessage() and "selinon_load" in r.getMessage()
               and str(changed) in r.getMessage() for r in caplog.records)

