"""The runs dashboard: counts per flow and window, success rate, duration percentiles (PostgreSQL's
``percentile_cont`` and the Python fallback agree), running runs, the latest failures, the live
parts, the permission, and its entry on the admin index."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from selinon_django.admin import statistics
from selinon_django.models import ConfigRevision, FlowRun, NodeRun
from tests.unit.admin.conftest import make_run

pytestmark = pytest.mark.django_db
DASHBOARD = "/admin/selinon_django/rundashboard/"


def aged(run: FlowRun, *, created: float, duration: float | None = None) -> FlowRun:
    """Move ``run`` back ``created`` seconds; a finished one lasted ``duration`` seconds."""
    created_at = timezone.now() - timedelta(seconds=created)
    fields: dict[str, Any] = {"created_at": created_at, "started_at": created_at}
    if duration is not None:
        fields["finished_at"] = created_at + timedelta(seconds=duration)
    FlowRun.objects.filter(pk=run.pk).update(**fields)
    run.refresh_from_db()
    return run


@pytest.fixture
def history(revision: ConfigRevision) -> dict[str, FlowRun]:
    """demo_main: 4 succeeded in the last hour (1, 2, 3, 10 s), 1 failed 2 hours ago, 1 succeeded
    3 days ago (100 s), 1 running now, 1 run 9 days ago (outside every window)."""
    runs = {}
    for index, seconds in enumerate((1, 2, 3, 10)):
        runs[f"ok{index}"] = aged(make_run(revision, nodes=0), created=60 * (index + 1), duration=seconds)
    runs["failed"] = aged(make_run(revision, status="failed", nodes=0), created=7200, duration=5)
    NodeRun.objects.create(id=str(uuid.uuid4()), flow_run=runs["failed"], name="Task0", status="failed",
                           exception="KeyError: 'version'\n  more")
    runs["old"] = aged(make_run(revision, nodes=0), created=3 * 86400, duration=100)
    runs["running"] = aged(make_run(revision, status="running", nodes=0), created=30)
    runs["ancient"] = aged(make_run(revision, status="failed", nodes=0), created=9 * 86400, duration=1)
    return runs


def test_counts_rates_and_percentiles_per_window(history: dict[str, FlowRun]) -> None:
    board = statistics.dashboard("day", ["demo_main", "analyze_files"])
    stats = {flow.name: flow for flow in board.flows}
    main = stats["demo_main"]
    assert main.counts["hour"] == {"succeeded": 4, "running": 1}
    assert main.counts["day"] == {"succeeded": 4, "running": 1, "failed": 1}
    assert main.counts["week"] == {"succeeded": 5, "running": 1, "failed": 1}
    assert main.success_rate == pytest.approx(4 / 5)
    # succeeded runs of the last day: 1, 2, 3, 10 s
    assert main.p50 == pytest.approx(2.5) and main.p95 == pytest.approx(3 + 0.85 * 7)
    assert main.running == 1 and sum(bucket.total for bucket in main.buckets) == 6
    assert stats["analyze_files"].total("week") == 0  # a flow of the revision without runs is listed
    week = {flow.name: flow for flow in statistics.dashboard("week").flows}["demo_main"]
    assert week.p50 == pytest.approx(3) and week.success_rate == pytest.approx(5 / 6)
    assert [run.pk for run in board.running] == [history["running"].pk]
    assert [run.pk for run in board.failures] == [history["failed"].pk, history["ancient"].pk]
    assert board.failures[0].first_error == "KeyError: 'version'"  # type: ignore[attr-defined]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="compares PostgreSQL with the fallback")
def test_the_python_fallback_gives_postgresqls_numbers(
    history: dict[str, FlowRun], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = timezone.now()
    for window in statistics.WINDOWS:
        in_database = statistics.dashboard(window, now=now)
        monkeypatch.setattr(statistics, "_series_in_database", statistics._series_python)
        in_python = statistics.dashboard(window, now=now)
        monkeypatch.undo()
        for db_flow, py_flow in zip(in_database.flows, in_python.flows, strict=True):
            assert (db_flow.name, db_flow.p50, db_flow.p95) == (py_flow.name, py_flow.p50, py_flow.p95)
            assert db_flow.buckets == py_flow.buckets


def test_percentile_cont_interpolates_like_postgresql() -> None:
    assert statistics.percentile_cont([], 0.5) is None
    assert statistics.percentile_cont([7.0], 0.95) == 7.0
    assert statistics.percentile_cont([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert statistics.percentile_cont([1.0, 2.0, 3.0, 10.0], 0.95) == pytest.approx(8.95)


def test_the_page_and_its_live_parts(history: dict[str, FlowRun], make_client: Any) -> None:
    client = make_client("viewer", "view_flowrun")
    page = client.get(DASHBOARD)
    assert page.status_code == 200
    html = page.content.decode()
    assert '<tr data-flow="demo_main">' in html and "80.0 %" in html
    assert html.count('<svg class="selinon-chart"') >= 4
    assert "KeyError: &#x27;version&#x27;" in html and history["running"].pk in html
    assert "<script" not in html.split("selinon-dashboard")[1] or "dashboard_live.js" in html
    live = client.get(DASHBOARD + "live/?window=hour").json()
    assert set(live["parts"]) == {"flows", "running", "failures"}
    FlowRun.objects.filter(pk=history["running"].pk).update(status="failed", finished_at=timezone.now())
    again = client.get(DASHBOARD + "live/").json()["parts"]
    assert history["running"].pk not in again["running"] and history["running"].pk in again["failures"]


def test_the_dashboard_needs_view_flowrun_and_is_on_the_admin_index(make_client: Any) -> None:
    nobody: Client = make_client("nobody")
    assert nobody.get(DASHBOARD).status_code == 403
    assert nobody.get(DASHBOARD + "live/").status_code == 403
    assert DASHBOARD not in nobody.get("/admin/").content.decode()
    viewer: Client = make_client("viewer", "view_flowrun")
    assert f'href="{DASHBOARD}"' in viewer.get("/admin/").content.decode()
    assert viewer.get(DASHBOARD + "?window=nonsense").status_code == 200


def test_queries_do_not_grow_with_the_runs(revision: ConfigRevision, make_client: Any,
                                           django_assert_max_num_queries: Any) -> None:
    client = make_client("viewer", "view_flowrun")
    make_run(revision, status="failed")
    with django_assert_max_num_queries(30) as few:
        client.get(DASHBOARD)
    for index in range(40):
        flow_name = ("demo_main", "analyze_files")[index % 2]
        make_run(revision, status="failed" if index % 3 else "running", flow_name=flow_name)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(DASHBOARD)
