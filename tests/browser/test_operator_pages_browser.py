"""An operator (staff, not a superuser: view and change flow runs) at the runs list, the dashboard
and the grid in a real browser.

The runs list at 1440 px with the admin's sidebar open shows every column: nothing of the table
lies beyond its scroll box or the window (measured in the page, not eyeballed). Bulk cancel goes
through the confirmation page. The dashboard's lists refresh themselves: a run that starts after
the page was loaded appears without a reload.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from selinon_django.config import load_config
from selinon_django.models import ConfigRevision, FlowRun, NodeRun
from selinon_django.revisions import load_revision
from tests.browser.conftest import PASSWORD, shot
from tests.browser.test_admin_browser import DEMO_FLOWS, DEMO_NODES, keep_for_docs

WIDE = {"width": 1440, "height": 900}


@pytest.fixture()
def revision(transactional_db: None) -> ConfigRevision:
    return load_revision(load_config([DEMO_NODES], [DEMO_FLOWS]), created_by_name="tester")[0]


@pytest.fixture()
def operator_page(browser: Any, live_server: Any, transactional_db: None) -> Iterator[Any]:
    user = User.objects.create_user("operator", password=PASSWORD, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="selinon_django", codename__in=["view_flowrun", "change_flowrun"]))
    context = browser.new_context(viewport=WIDE, base_url=live_server.url)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    tab.goto("/admin/login/?next=/admin/")
    tab.fill("#id_username", "operator")
    tab.fill("#id_password", PASSWORD)
    tab.click("input[type=submit]")
    tab.wait_for_selector("#site-name")
    yield tab
    context.close()


def a_run(revision: ConfigRevision, *, status: str, age: float, flow_name: str = "demo_main", **fields: Any) -> FlowRun:
    created = timezone.now() - timedelta(seconds=age)
    finished = None if status in ("running", "pending") else created + timedelta(seconds=3.5)
    return FlowRun.objects.create(
        id=str(uuid.uuid4()), flow_name=flow_name, revision=revision, status=status, created_at=created,
        started_at=created, finished_at=finished, **fields,
    )


def busy_history(revision: ConfigRevision) -> list[FlowRun]:
    """Runs whose cells are as wide as real ones get: long node_args, long errors, long names."""
    runs = []
    for index in range(30):
        status = ("succeeded", "failed", "running", "revoked")[index % 4]
        run = a_run(
            revision, status=status, age=600 * index + 5,
            node_args={"ecosystem": "pypi", "name": f"a-package-with-a-rather-long-name-{index}",
                       "version": "10.2.3-rc1+build.20240101", "url": "https://example.com/" + "x" * 80},
            error="cancelled" if status == "revoked" else "",
        )
        if status == "failed":
            NodeRun.objects.create(
                id=str(uuid.uuid4()), flow_run=run, name="get_package_metadata", status="failed",
                exception="requests.exceptions.ConnectionError: HTTPSConnectionPool(host='pypi.example.org', "
                          "port=443): Max retries exceeded with url: /pypi/" + "y" * 120,
                finished_at=run.finished_at,
            )
        runs.append(run)
    return runs


def overflow(page: Any) -> dict[str, Any]:
    """How far the runs table reaches past its scroll box and the window (0 when it fits)."""
    return page.evaluate(
        """() => {
            const table = document.getElementById('result_list');
            const box = table.closest('.results') || table.parentElement;
            const heads = Array.from(table.querySelectorAll('thead th'));
            return {
                beyondBox: box.scrollWidth - box.clientWidth,
                beyondWindow: Math.max(...heads.map(th => th.getBoundingClientRect().right)) - window.innerWidth,
                columns: heads.map(th => th.textContent.trim().toLowerCase()),
                widths: heads.map(th => [th.textContent.trim(), Math.round(th.getBoundingClientRect().width)]),
                sidebarOpen: document.getElementById('nav-sidebar').getAttribute('aria-expanded'),
            };
        }"""
    )


def test_runs_list_fits_1440_px_with_the_sidebar_open_and_bulk_cancel(revision: ConfigRevision,
                                                                        operator_page: Any) -> None:
    page = operator_page
    runs = busy_history(revision)
    page.goto("/admin/selinon_django/flowrun/")
    page.wait_for_selector("#result_list")
    measured = overflow(page)
    picture = shot(page, "runs-list-1440")
    assert measured["sidebarOpen"] == "true"
    assert {"node_args", "first error", "created", "failed"} <= set(measured["columns"]), measured
    assert measured["beyondBox"] <= 0 and measured["beyondWindow"] <= 0, json.dumps(measured)
    assert page.locator("text=requests.exceptions.ConnectionError").count() > 0
    keep_for_docs(picture, "runs-list.png")

    running = [run for run in runs if run.status == "running"][:2]
    for run in running:
        page.check(f'input.action-select[value="{run.pk}"]')
    page.check(f'input.action-select[value="{runs[0].pk}"]')  # succeeded: left alone
    page.select_option("select[name=action]", "cancel_selected")
    page.click("button[name=index]")
    page.wait_for_selector("#selinon-bulk")
    assert page.locator("#selinon-bulk-eligible li").count() == 2
    assert "already succeeded" in page.inner_text("#selinon-bulk-skipped")
    page.click("#selinon-confirm")
    page.wait_for_selector("#result_list")
    assert "Cancel: 2 run(s); 1 left alone." in page.inner_text("ul.messagelist")
    assert {FlowRun.objects.get(pk=run.pk).status for run in running} == {"revoked"}


def test_dashboard_refreshes_itself_and_the_grid_draws_the_flow(revision: ConfigRevision, operator_page: Any) -> None:
    page = operator_page
    busy_history(revision)
    page.goto("/admin/")
    page.click("a[href='/admin/selinon_django/rundashboard/']")
    page.wait_for_selector("#selinon-dashboard")
    assert page.locator('tr[data-flow="demo_main"] svg.selinon-chart').count() == 2
    assert page.locator('tr[data-flow="demo_main"] svg.selinon-chart rect[data-status="failed"]').count() > 0
    keep_for_docs(shot(page, "dashboard", full_page=True), "dashboard.png")

    late = a_run(revision, status="running", age=0)
    page.wait_for_function("() => document.getElementById('selinon-dashboard').dataset.refreshed !== '0'")
    page.wait_for_selector(f'#selinon-running-list tr[data-run="{late.pk}"]')
    assert page.evaluate("document.getElementById('selinon-dashboard').dataset.refreshed") != "0"

    page.click('tr[data-flow="demo_main"] a:text("grid")')
    page.wait_for_selector("#selinon-grid")
    assert page.locator("#selinon-grid thead .selinon-grid-run").count() == 30
    assert page.locator('#selinon-grid tbody span[data-status="failed"]').count() > 0
    fits = page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert fits
    keep_for_docs(shot(page, "grid"), "grid.png")
