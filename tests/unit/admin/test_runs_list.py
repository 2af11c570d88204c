"""The runs list as an operator reads it: top-level runs first, seconds, node_args and the first
error in columns, and bulk cancel / retry behind a permission and a confirmation page."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from selinon_django.admin import bulk
from selinon_django.models import ConfigRevision, FlowRun, NodeRun
from tests.unit.admin.conftest import make_run

pytestmark = pytest.mark.django_db
RUNS = "/admin/selinon_django/flowrun/"


def listed(client: Client, query: str = "") -> list[str]:
    response = client.get(RUNS + query)
    assert response.status_code == 200
    return [run.pk for run in response.context["cl"].result_list]


def test_top_level_runs_by_default_and_sub_flows_one_click_away(revision: ConfigRevision, make_client: Any) -> None:
    client = make_client("viewer", "view_flowrun")
    parent = make_run(revision, nodes=0)
    child = make_run(revision, flow_name="analyze_files", nodes=0, parent=parent)
    assert listed(client) == [parent.pk]
    assert listed(client, "?kind=sub") == [child.pk]
    assert set(listed(client, "?kind=all")) == {parent.pk, child.pk}
    # a sub-flow run's id pasted into the search box finds it
    assert listed(client, f"?q={child.pk[:13]}") == [child.pk]
    assert listed(client, f"?q={child.pk[:13]}&kind=top") == []
    page = client.get(RUNS).content.decode()
    assert re.search(r'<li class="selected">\s*<a href="\?kind=top"[^>]*>top-level runs</a>', page), page
    assert 'href="?kind=sub"' in page
    response = client.get(RUNS + "?kind=nonsense")
    assert list(response.context["cl"].result_list) == []
    assert "is not top, sub or all" in " ".join(str(m) for m in get_messages(response.wsgi_request))


def test_columns_show_seconds_node_args_and_the_first_error(revision: ConfigRevision, make_client: Any) -> None:
    client = make_client("viewer", "view_flowrun")
    run = make_run(revision, status="failed", nodes=0, node_args={"name": "django", "version": "5.2"})
    created = timezone.localtime(run.created_at).strftime("%Y-%m-%d<br>%H:%M:%S")
    now = timezone.now()
    NodeRun.objects.bulk_create([
        NodeRun(id=str(uuid.uuid4()), flow_run=run, name="Late", status="failed", exception="late: second",
                finished_at=now),
        NodeRun(id=str(uuid.uuid4()), flow_run=run, name="Early", status="failed",
                exception="\nValueError: no such package\nmore detail", finished_at=now - timedelta(seconds=2)),
        NodeRun(id=str(uuid.uuid4()), flow_run=run, name="Fine", status="succeeded"),
    ])
    cancelled = make_run(revision, status="revoked", nodes=1, error="cancelled")
    long_args = make_run(revision, nodes=0, node_args={"text": "x" * 500})

    page = client.get(RUNS).content.decode()
    assert created in page
    assert "{&quot;name&quot;: &quot;django&quot;, &quot;version&quot;: &quot;5.2&quot;}" in page
    row = page[page.index(run.pk[:8]):]
    row = row[:row.index("</tr>")]
    assert "ValueError: no such package" in row and "more detail" not in row and "late: second" not in row
    cancelled_row = page[page.index(cancelled.pk[:8]):]
    assert ">cancelled<" in cancelled_row[:cancelled_row.index("</tr>")]
    long_row = page[page.index(long_args.pk[:8]):]
    long_row = long_row[:long_row.index("</tr>")]
    assert "x" * 40 in long_row and "x" * 60 not in long_row.split("title=")[0]


def action(client: Client, name: str, runs: list[FlowRun], query: str = "", **extra: str) -> Any:
    """The action as the list's form posts it (to the list's own URL, filters included)."""
    data = {"action": name, "index": "0", "_selected_action": [run.pk for run in runs], **extra}
    return client.post(RUNS + query, data)


def test_bulk_cancel_asks_first_and_leaves_finished_runs_alone(revision: ConfigRevision, make_client: Any) -> None:
    client = make_client("operator", "view_flowrun", "change_flowrun")
    running = [make_run(revision, status="running", nodes=0) for _ in range(2)]
    done = make_run(revision, status="succeeded", nodes=0)
    NodeRun.objects.create(id=str(uuid.uuid4()), flow_run=running[0], name="Task0", status="pending")

    confirm = action(client, "cancel_selected", [*running, done])
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "Cancel 2 run(s)?" in page and "already succeeded" in page
    assert set(FlowRun.objects.values_list("status", flat=True)) == {"running", "succeeded"}  # nothing yet

    finished = action(client, "cancel_selected", [*running, done], post="yes")
    assert finished.status_code == 302
    assert {run.pk: run.status for run in FlowRun.objects.all()} == {
        running[0].pk: "revoked", running[1].pk: "revoked", done.pk: "succeeded"}
    assert NodeRun.objects.get(flow_run=running[0]).status == "revoked"
    assert "Cancel: 2 run(s); 1 left alone." in [str(m) for m in get_messages(finished.wsgi_request)]


def test_bulk_retry_takes_failed_top_level_runs_only(
    revision: ConfigRevision, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    retried: list[str] = []
    monkeypatch.setattr("selinon_django.runtime.api.retry_flow", lambda run_id: retried.append(run_id) or run_id)
    client = make_client("operator", "view_flowrun", "change_flowrun")
    failed = make_run(revision, status="failed", nodes=0)
    sub = make_run(revision, status="failed", nodes=0, parent=failed)
    ok = make_run(revision, status="succeeded", nodes=0)
    confirm = action(client, "retry_selected", [failed, sub, ok], "?kind=all", select_across="0").content.decode()
    assert "Retry 1 run(s)?" in confirm and "a sub-flow run" in confirm and "succeeded, not failed" in confirm
    assert retried == []
    action(client, "retry_selected", [failed, sub, ok], "?kind=all", post="yes")
    assert retried == [failed.pk]


def test_bulk_actions_need_change_flowrun(revision: ConfigRevision, make_client: Any) -> None:
    viewer = make_client("viewer", "view_flowrun")
    run = make_run(revision, status="running", nodes=0)
    assert 'name="action"' not in viewer.get(RUNS).content.decode()
    assert action(viewer, "cancel_selected", [run], post="yes").status_code in (200, 302)
    assert FlowRun.objects.get(pk=run.pk).status == "running"
    operator = make_client("operator", "view_flowrun", "change_flowrun")
    options = operator.get(RUNS).content.decode()
    assert 'value="cancel_selected"' in options and 'value="retry_selected"' in options
    assert 'value="delete_selected"' not in options


def test_bulk_actions_are_bounded(
    revision: ConfigRevision, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "MAX_RUNS", 2)
    client = make_client("operator", "view_flowrun", "change_flowrun")
    runs = [make_run(revision, status="running", nodes=0) for _ in range(3)]
    response = action(client, "cancel_selected", runs[:1], select_across="1", post="yes")
    assert response.status_code == 302
    assert "At most 2 runs" in " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert set(FlowRun.objects.values_list("status", flat=True)) == {"running"}
