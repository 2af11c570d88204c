"""A person at the admin: start the demo flow and watch it, open a sub-flow, cancel, retry.

Waits are on the page's own state (``data-status`` attributes the live script updates), never
fixed sleeps. ``window.selinonNoReload`` proves the page changed without being reloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from tests.browser.conftest import REPO, shot

DEMO_NODES = REPO / "demo_project" / "flows" / "nodes.yaml"
DEMO_FLOWS = REPO / "demo_project" / "flows" / "flows"
DOCS = REPO / "docs" / "screenshots"
GREEN = "#5cb85c"
FLOW_TIMEOUT = 90_000


def start_from_admin(page: Any, flow: str, node_args: Any) -> str:
    """Runs list → Start a flow → review → confirm; returns the new run's id (from the URL)."""
    page.goto("/admin/selinon_django/flowrun/")
    page.click("#selinon-start-link")
    page.select_option("#id_flow_name", flow)
    page.fill("#id_node_args", json.dumps(node_args))
    page.click("#selinon-review")
    page.wait_for_selector("#selinon-confirm")
    assert flow in page.inner_text("#selinon-start-form")
    page.click("#selinon-confirm")
    page.wait_for_selector("#selinon-run")
    page.evaluate("window.selinonNoReload = true")
    return str(page.url.rstrip("/").split("/")[-2])


def wait_status(page: Any, status: str) -> None:
    """Wait for the page to say the run reached ``status``; a run that ends otherwise fails at once."""
    page.wait_for_function(
        """(status) => { const run = document.getElementById('selinon-run');
                         return run.dataset.status === status || run.dataset.finished === 'true'; }""",
        arg=status,
        timeout=FLOW_TIMEOUT,
    )
    actual = page.get_attribute("#selinon-run", "data-status")
    if actual != status:
        failed = page.locator('details.selinon-group[data-status="failed"]')
        details = "\n".join(failed.nth(i).text_content() for i in range(failed.count()))
        raise AssertionError(f"the run ended {actual}, expected {status}:\n{details}")


def keep_for_docs(path: Path, name: str) -> None:
    """Refresh the README's screenshot, only when asked (UPDATE_SCREENSHOTS=1): a test run must
    not change tracked files."""
    if os.environ.get("UPDATE_SCREENSHOTS") != "1":
        return
    DOCS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, DOCS / name)


def test_start_the_demo_flow_and_watch_it_turn_green(page: Any, load_flows: Any, live_workers: Any) -> None:
    load_flows(DEMO_NODES, DEMO_FLOWS)
    start_from_admin(page, "demo_main", {"ecosystem": "pypi", "name": "django", "version": "5.2"})
    assert page.get_attribute("#selinon-run", "data-finished") == "false"
    wait_status(page, "succeeded")
    assert page.evaluate("window.selinonNoReload") is True, "the page was reloaded"
    # every node the run reached is drawn green (the failing primary mirror is red: its fallback ran)
    fills = page.evaluate(
        """() => Array.from(document.querySelectorAll('#selinon-part-graph g.node[id^="selinon_node_"]'))
              .map(g => [g.querySelector('title').textContent,
                         g.querySelector('polygon, ellipse, path').getAttribute('fill')])"""
    )
    assert fills and sum(fill == GREEN for _, fill in fills) >= len(fills) - 1, fills
    assert page.locator(".selinon-timeline-row").count() >= 5
    keep_for_docs(shot(page, "run-succeeded", full_page=False), "run-page.png")
    page.locator("#selinon-part-timeline").scroll_into_view_if_needed()
    keep_for_docs(shot(page, "run-timeline"), "run-timeline.png")

    # open the analyze_files sub-flow from the graph page's sub-flow links
    page.click('.selinon-subflow-link[data-flow="analyze_files"]')
    page.wait_for_selector("#selinon-run")
    assert "analyze_files" in page.inner_text("h1")
    wait_status(page, "succeeded")
    group = page.locator('details.selinon-group[data-node="analyze_file"]')
    assert "\u00d7" in group.inner_text()  # foreach instances are grouped with counts ("x3: 3 succeeded")
    shot(page, "subflow")

    # narrow screen, dark mode: the same page stays usable
    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme="dark")
    page.reload()
    page.wait_for_selector("#selinon-run")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the page scrolls sideways on a phone ({width}px)"
    keep_for_docs(shot(page, "subflow-narrow-dark"), "run-narrow-dark.png")


def test_cancel_a_running_flow(page: Any, load_flows: Any, live_workers: Any) -> None:
    load_flows()
    start_from_admin(page, "sleepy", {"sleep": 120})
    page.wait_for_selector('details.selinon-group[data-node="Sleep"][data-status="started"]', timeout=FLOW_TIMEOUT)
    assert page.get_attribute("#selinon-run", "data-status") == "running"
    page.click('a[data-action="cancel"]')
    page.wait_for_selector("#selinon-confirm")
    shot(page, "cancel-confirm")
    page.click("#selinon-confirm")
    page.wait_for_selector("#selinon-run")
    wait_status(page, "revoked")
    assert page.get_attribute('details.selinon-group[data-node="Sleep"]', "data-status") == "revoked"
    assert page.locator('a[data-action="cancel"]').count() == 0
    shot(page, "cancelled")


def test_retry_a_failed_flow(page: Any, load_flows: Any, live_workers: Any, worker_env: dict[str, str]) -> None:
    load_flows()
    flag = f"flag-{uuid.uuid4().hex}"
    start_from_admin(page, "retry_me", {"flag": flag})
    wait_status(page, "failed")
    assert page.evaluate("window.selinonNoReload") is True
    failed = page.locator('details.selinon-group[data-node="FailUnlessFlag"]')
    assert failed.get_attribute("data-status") == "failed"
    assert "flag not set yet" in failed.inner_text()  # the exception (and its traceback) are shown
    keep_for_docs(shot(page, "failed"), "run-failed.png")

    flag_path = Path(worker_env["SELINON_DJANGO_VAR_DIR"]) / "integration" / flag
    flag_path.parent.mkdir(parents=True, exist_ok=True)
    flag_path.write_text("set")
    page.click('a[data-action="retry-from-the-failure"]')
    page.click("#selinon-confirm")
    page.wait_for_selector("#selinon-run")
    page.evaluate("window.selinonNoReload = true")
    wait_status(page, "succeeded")
    assert page.evaluate("window.selinonNoReload") is True
    assert page.get_attribute('details.selinon-group[data-node="T2"]', "data-status") == "succeeded"
    shot(page, "retried")
