"""Operating flows with real workers on Redis: a running task's log streams before it ends, a
failed node is an ERROR line in the worker's log, the workers page shows the workers online, the
depth of each queue and the runs stranded on a queue nobody consumes, and ``selinon_run --wait``
that times out on such a queue names it."""
from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.test import Client

from selinon_django.models import NodeRun, NodeRunLog
from selinon_django.runtime.api import run_flow
from tests.integration.helpers import wait_finished
from tests.integration.workers import WorkerPool, WorkerProcess, wait_until

FLOWS = Path(__file__).resolve().parent / "operations_flows"
NOBODY = "ops_a_nobody"
PAGE = "/admin/selinon_django/workersandqueues/"


@pytest.fixture
def ops_flows(load_flows: Any) -> Any:
    return load_flows(FLOWS / "nodes.yaml", FLOWS / "flows.yaml")


@pytest.fixture
def purge_nobody(celery_app: Any) -> Iterator[None]:
    """The queue nobody consumes starts empty and is emptied afterwards (no worker ever takes its
    messages; a sweeper may have resent one after an earlier test)."""
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge(NOBODY)
    yield
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge(NOBODY)


@pytest.fixture
def viewer() -> Client:
    user = User.objects.create_user("ops-viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_flowrun", content_type__app_label="selinon_django"))
    client = Client()
    client.force_login(user)
    return client


def _messages(node_id: str) -> list[str]:
    return [line.message for batch in NodeRunLog.objects.filter(node_run_id=node_id) for line in batch.entries()]


def test_a_running_task_s_log_streams_before_it_ends(live_workers: WorkerPool, ops_flows: Any,
                                                     tmp_path: Path) -> None:
    release = tmp_path / "release"
    run_id = run_flow("ops_streaming", {"release": str(release), "timeout": 60})
    node = wait_until(lambda: NodeRun.objects.filter(flow_run_id=run_id, name="Streaming").first(), timeout=30,
                      message="the node run")
    # the task logged its first line and now waits: the worker's flusher writes the line anyway
    wait_until(lambda: _messages(node.pk) == ["first line, before the wait"], timeout=30,
               message=lambda: f"the first line while the task runs; worker logs:\n{live_workers.logs()}")
    assert NodeRun.objects.get(pk=node.pk).status == "started"
    release.write_text("go")
    wait_finished(run_id, timeout=60, workers=live_workers)
    assert _messages(node.pk) == ["first line, before the wait", "last line, after the wait"]
    assert NodeRunLog.objects.filter(node_run_id=node.pk).count() == 2  # streamed, then the rest at the end


def test_a_failed_node_is_an_error_line_in_the_worker_log(live_workers: WorkerPool, ops_flows: Any) -> None:
    run_id = run_flow("ops_fails")
    wait_finished(run_id, timeout=60, workers=live_workers)
    node = NodeRun.objects.get(flow_run_id=run_id)
    assert node.status == "failed"
    expected = (f"flow ops_fails node Fails (task id {node.pk}) of run {run_id} failed: "
                "ValueError: broken by postgres://app:********@db.example/prod")
    wait_until(lambda: any(expected in w.log_path.read_text(errors="replace") for w in live_workers.workers),
               timeout=10, message=lambda: f"the ERROR line in a worker's log:\n{live_workers.logs()}")
    line = next(line for w in live_workers.workers for line in w.log_path.read_text().splitlines() if expected in line)
    assert "ERROR" in line and "s3cret" not in line
    assert _messages(node.pk)[0] == "about to fail"


def test_the_workers_page_shows_workers_queues_and_a_stranded_run(
    live_workers: WorkerPool, ops_flows: Any, viewer: Client, purge_nobody: None
) -> None:
    run_id = run_flow("ops_stranded")
    html = viewer.get(PAGE).content.decode()
    for worker in live_workers.workers:
        row = html.split(f'<tr data-worker="{worker.hostname}">')[1].split("</tr>")[0]
        for queue in worker.queues:
            assert f'<span class="selinon-chip">{queue}</span>' in row
        assert "heartbeats off (--without-heartbeat)" in row  # how the test workers are started
    assert "No worker answered" not in html and "No broker answered" not in html
    nobody = html.split(f'<tr data-queue="{NOBODY}">')[1].split("</tr>")[0]
    assert '<td class="selinon-depth">1</td>' in nobody and "<strong class=\"selinon-error\">nobody</strong>" in nobody
    tasks = html.split('<tr data-queue="selinon_tasks">')[1].split("</tr>")[0]
    assert "nobody" not in tasks
    stranded = html.split(f'<div class="selinon-stranded" data-queue="{NOBODY}">')[1].split("</div>")[0]
    assert "1 node run of 1 run waits for a worker" in stranded and f"-Q {NOBODY}" in stranded
    assert f'href="/admin/selinon_django/flowrun/{run_id}/change/"' in stranded


class HeartbeatWorker(WorkerProcess):
    """A test worker that sends heartbeats (the session's workers are started without them)."""

    def command(self) -> list[str]:
        return [part for part in super().command() if part != "--without-heartbeat"]


def test_a_worker_s_last_heartbeat_is_shown(live_workers: WorkerPool, viewer: Client, celery_app: Any) -> None:
    worker = HeartbeatWorker(queues=("ops_a_heartbeat",), env=live_workers.env, log_dir=live_workers.log_dir,
                             concurrency=1)
    try:
        worker.start(celery_app)

        def row() -> str:
            html = viewer.get(PAGE).content.decode()
            return html.split(f'<tr data-worker="{worker.hostname}">')[1].split("</tr>")[0]

        # its first heartbeat goes out once it is ready; the page shows when
        shown = wait_until(lambda: " ago)" in row() and row(), timeout=15, message="a heartbeat on the page")
        assert '<span class="selinon-chip">ops_a_heartbeat</span>' in shown
    finally:
        worker.stop()


def test_selinon_run_wait_names_the_queue_nobody_consumes(live_workers: WorkerPool, ops_flows: Any,
                                                          purge_nobody: None) -> None:
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("selinon_run", "ops_stranded", "--wait", "--timeout", "1", stdout=io.StringIO(), stderr=err)
    assert exit_info.value.code == 1
    text = err.getvalue()
    assert "timed out after 1.0 s; the run goes on" in text
    assert f"1 node run(s) of this run wait on queue '{NOBODY}', which no worker consumes (workers online: " in text
    for worker in live_workers.workers:
        assert worker.hostname in text
