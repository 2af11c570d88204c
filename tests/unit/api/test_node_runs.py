"""Node runs: the detail a user reads when a task failed (result, exception, traceback)."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from selinon_django.models import FlowRun, NodeRun

pytestmark = pytest.mark.django_db


def test_detail_has_result_exception_and_traceback(api: APIClient, make_run: Callable[..., FlowRun]) -> None:
    run = make_run("main", "failed")
    now = timezone.now()
    NodeRun.objects.create(
        id="t-1", flow_run=run, name="Fetch", status="failed", attempts=3, worker="w1@host",
        node_args={"url": "x"}, parent={}, result=None, exception="ValueError: no such page",
        traceback='Traceback (most recent call last):\n  File "t.py"\nValueError: no such page',
        started_at=now, finished_at=now,
    )
    body = api.get("/api/node-runs/t-1/").json()
    assert (body["id"], body["flow_run"], body["flow_name"], body["name"], body["kind"], body["status"]) == (
        "t-1", run.pk, "main", "Fetch", "task", "failed")
    assert (body["exception"], body["attempts"], body["worker"]) == ("ValueError: no such page", 3, "w1@host")
    assert body["traceback"].startswith("Traceback") and body["traceback"].endswith("ValueError: no such page")
    assert body["node_args"] == {"url": "x"}
    assert body["flow_run_url"].endswith(f"/api/runs/{run.pk}/")


def test_detail_of_a_succeeded_node_has_its_result(api: APIClient, make_run: Callable[..., FlowRun]) -> None:
    run = make_run("main", "succeeded")
    NodeRun.objects.create(id="t-2", flow_run=run, name="Parse", status="succeeded", result={"words": [1, 2]},
                           result_storage="Memory")
    body = api.get("/api/node-runs/t-2/").json()
    assert (body["result"], body["result_storage"], body["exception"], body["traceback"]) == (
        {"words": [1, 2]}, "Memory", "", "")


def test_unknown_node_run_is_404(api: APIClient, make_run: Callable[..., FlowRun]) -> None:
    assert api.get("/api/node-runs/nope/").status_code == 404


def test_node_runs_are_not_listed(api: APIClient) -> None:
    assert api.get("/api/node-runs/").status_code == 404
