"""A person operating flows: the run page follows a running task's log line by line, and the
workers page (found on the admin index) shows the workers and a queue nobody consumes.

Waits are on the page's own state, never fixed sleeps; ``window.selinonNoReload`` proves the
lines arrived without a reload.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from selinon_django.models import NodeRun
from selinon_django.runtime.api import run_flow
from tests.browser.conftest import REPO, shot

FLOWS = REPO / "tests" / "integration" / "operations_flows"
DOCS = REPO / "docs" / "screenshots"


def test_the_run_page_follows_a_running_task_s_log(page: Any, load_flows: Any, live_workers: Any,
                                                   tmp_path: Path) -> None:
    load_flows(FLOWS / "nodes.yaml", FLOWS / "flows.yaml")
    release = tmp_path / "release"
    run_id = run_flow("ops_streaming", {"release": str(release), "timeout": 60})
    page.goto(f"/admin/selinon_django/flowrun/{run_id}/change/")
    page.evaluate("window.selinonNoReload = true")
    panel = page.locator("#selinon-logs .selinon-log")
    # the line arrives while the task still waits
    page.wait_for_selector("#selinon-logs .selinon-log-message:has-text('first line, before the wait')")
    assert NodeRun.objects.get(flow_run_id=run_id).status == "started"
    assert panel.get_attribute("data-live") == "true"
    assert page.is_hidden("#selinon-logs .selinon-log-empty")
    page.locator("#selinon-logs").scroll_into_view_if_needed()
    shot(page, "task-log-streaming")
    release.write_text("go")
    page.wait_for_selector("#selinon-logs .selinon-log-message:has-text('last line, after the wait')")
    page.wait_for_selector("#selinon-logs .selinon-log[data-live='false']")
    messages = page.locator("#selinon-logs .selinon-log-message").all_inner_texts()
    assert messages == ["first line, before the wait", "last line, after the wait"]
    assert page.evaluate("window.selinonNoReload") is True
    node_link = page.locator("#selinon-logs .selinon-log-node a").first
    assert node_link.inner_text() == "Streaming"
    DOCS.mkdir(parents=True, exist_ok=True)
    page.locator("#selinon-logs").screenshot(path=str(DOCS / "task-logs.png"))
    # the node-run page shows the same log
    node_link.click()
    page.wait_for_selector(".field-log .selinon-log")
    assert page.locator(".field-log .selinon-log-message").all_inner_texts() == messages


def test_the_workers_page_from_the_admin_index(page: Any, load_flows: Any, live_workers: Any, celery_app: Any) -> None:
    load_flows(FLOWS / "nodes.yaml", FLOWS / "flows.yaml")
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge("ops_a_nobody")
    run_id = run_flow("ops_stranded")
    try:
        page.goto("/admin/")
        page.click("text=Workers and queues")
        page.wait_for_selector("#selinon-workers")
        for worker in live_workers.workers:
            assert page.locator(f"tr[data-worker='{worker.hostname}']").count() == 1
        stranded = page.locator(".selinon-stranded[data-queue='ops_a_nobody']")
        assert "1 node run of 1 run waits for a worker" in stranded.inner_text()
        queue_row = page.locator("tr[data-queue='ops_a_nobody']").first
        assert queue_row.locator(".selinon-depth").inner_text() == "1"
        stranded.locator("a").click()
        page.wait_for_selector("#selinon-run")
        assert run_id in page.url
        page.go_back()
        page.wait_for_selector("#selinon-workers")
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS / "workers-and-queues.png"), full_page=True)
    finally:
        with celery_app.connection_for_write() as connection:
            connection.default_channel.queue_purge("ops_a_nobody")
