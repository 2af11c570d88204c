"""An existing Selinon worker's unchanged modules run their flow on a real worker of the demo project.

``tests/fixtures/selinon_project`` is a Selinon project as its team wrote it (``from selinon
import SelinonTask, StoragePool``, ``from selinon.predicates import *`` plus its own predicates,
a foreach function, a custom storage, YAML with ``{VAR}`` queue names). Its workers here are
``celery -A demo_project worker`` with the demo settings plus ``PREDICATES_MODULES`` (its
predicates module is trusted as a whole), the project directory on ``PYTHONPATH`` and its
environment variables: nothing of the project was edited.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from tests.integration.workers import WorkerPool

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "selinon_project"
QUEUES = ("urlworker_dispatcher", "urlworker_tasks")


@pytest.fixture(scope="module")
def project_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        "URLWORKER_QUEUE": "urlworker_tasks",
        "URLWORKER_DISPATCHER_QUEUE": "urlworker_dispatcher",
        "URLWORKER_RESULTS_DIR": str(tmp_path_factory.mktemp("urlworker-results")),
    }


@pytest.fixture(scope="module")
def project_workers(
    celery_app: Any, worker_env: dict[str, str], worker_logs: Path, project_env: dict[str, str]
) -> Iterator[WorkerPool]:
    env = {
        **worker_env, **project_env,
        "DJANGO_SETTINGS_MODULE": "tests.integration.selinon_project_settings",
        "PYTHONPATH": f"{PROJECT}:{worker_env['PYTHONPATH']}",
    }
    pool = WorkerPool(celery_app, env, worker_logs)
    try:
        pool.start(QUEUES, concurrency=2)
        yield pool
    finally:
        pool.stop_all()


def test_unchanged_selinon_modules_run_their_flow_on_a_real_worker(
    project_workers: WorkerPool, project_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from selinon_django.config import load_config
    from selinon_django.models import NodeRun
    from selinon_django.revisions import load_revision

    for name, value in project_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(PROJECT))  # run_flow runs the first step in this process
    (tmp_path / "index.html").write_text("<html><body><h1>Moving</h1><p>from Selinon</p></body></html>")
    (tmp_path / "notes.txt").write_text("not counted")
    urls = [f"file://{tmp_path / 'index.html'}", f"file://{tmp_path / 'notes.txt'}"]

    with override_settings(SELINON_DJANGO={"PREDICATES_MODULES": ["urlworker.predicates"]}):
        load_revision(load_config([PROJECT / "nodes.yaml"], [PROJECT / "flows.yaml"]))
        import selinon

        handle = selinon.run_flow("crawl", {"urls": urls})
        try:
            state = handle.get(timeout=90)  # Selinon's AsyncResult.get(): the flow's final state
        except Exception:
            print(project_workers.logs())
            raise

    assert sorted(state["finished_nodes"]) == ["CollectUrls", "Report", "fetch_page"]
    assert state["failed_nodes"] == {}
    nodes = NodeRun.objects.filter(flow_run__id__in=_tree(handle.id))
    assert Counter(nodes.filter(status="succeeded").values_list("name", flat=True)) == Counter(
        {"CollectUrls": 1, "fetch_page": 2, "FetchPage": 2, "CountWords": 1, "Report": 2})
    hostnames = {w.hostname for w in project_workers.workers}
    tasks = nodes.filter(kind=NodeRun.Kind.TASK)
    assert set(tasks.values_list("worker", flat=True)) <= hostnames, "every task ran on the project's worker"
    reports = sorted((r["url"], r["words"]) for r in nodes.filter(name="Report").values_list("result", flat=True))
    assert reports == [(urls[0], 3), (urls[1], None)]
    stored = sorted(p.name.split("-")[0] for p in Path(project_env["URLWORKER_RESULTS_DIR"]).glob("*.json"))
    assert Counter(stored) == Counter({"CollectUrls": 1, "FetchPage": 2, "CountWords": 1, "Report": 2})


def _tree(run_id: str) -> list[str]:
    from selinon_django.models import FlowRun

    ids, frontier = [run_id], [run_id]
    while frontier:
        frontier = list(FlowRun.objects.filter(parent_run_id__in=frontier).values_list("id", flat=True))
        ids.extend(frontier)
    return ids
