"""Task logs in the admin: the run page's and the node-run page's log panels, and the JSON their
script polls, read by staff users who hold only the permission to view runs (or node runs)."""
from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from selinon_django.admin.task_logs import RUN_PAGE_BATCHES
from selinon_django.models import ConfigRevision, FlowRun, NodeRun, NodeRunLog
from tests.unit.admin.conftest import make_run

pytestmark = pytest.mark.django_db


def _log(node: NodeRun, *messages: str, level: str = "INFO", attempt: int = 1) -> NodeRunLog:
    return NodeRunLog.objects.create(
        flow_run_id=node.flow_run_id, node_run_id=node.pk, attempt=attempt, size=sum(map(len, messages)),
        lines=[[1_700_000_000.5, level, f"app.{node.name}", message] for message in messages],
    )


@pytest.fixture
def run(revision: ConfigRevision) -> FlowRun:
    return make_run(revision, status="running", nodes=2)


def _nodes(run: FlowRun) -> list[NodeRun]:
    return list(NodeRun.objects.filter(flow_run=run).order_by("name"))


def _panel(html: str) -> str:
    match = re.search(r'<div class="selinon-log".*?class="selinon-muted selinon-log-empty".*?</p>', html, re.S)
    assert match, "no log panel on the page"
    return match.group(0)


def test_the_run_page_shows_every_node_s_lines_escaped_and_follows_a_running_run(
    run: FlowRun, make_client: Any
) -> None:
    first, second = _nodes(run)
    _log(first, "fetching <script>alert(1)</script>")
    last = _log(second, "parsed 3 pages", "could not parse page 4", level="WARNING", attempt=2)
    page = make_client("viewer", "view_flowrun").get(f"/admin/selinon_django/flowrun/{run.pk}/change/")
    assert page.status_code == 200
    panel = _panel(page.content.decode())
    assert "fetching &lt;script&gt;alert(1)&lt;/script&gt;" in panel and "<script>alert" not in panel
    assert panel.index("fetching") < panel.index("parsed 3 pages") < panel.index("could not parse page 4")
    assert f'href="/admin/selinon_django/noderun/{second.pk}/change/">Task1</a>' in panel
    assert 'data-live="true"' in panel and f'data-cursor="{last.pk}"' in panel
    assert f'data-log-url="/admin/selinon_django/noderun/logs/run/{run.pk}/"' in panel
    assert "selinon-log-warning" in panel and "#2" in panel


def test_a_finished_run_s_panel_is_not_live_and_says_when_nothing_was_logged(
    revision: ConfigRevision, make_client: Any
) -> None:
    done = make_run(revision, status="succeeded")
    html = make_client("viewer", "view_flowrun").get(f"/admin/selinon_django/flowrun/{done.pk}/change/").content
    panel = _panel(html.decode())
    assert 'data-live="false"' in panel and "Nothing logged." in panel


def test_the_run_page_says_how_many_older_batches_it_left_out(run: FlowRun, make_client: Any) -> None:
    node = _nodes(run)[0]
    batches = [_log(node, f"batch {index}") for index in range(RUN_PAGE_BATCHES + 3)]
    html = make_client("viewer", "view_flowrun").get(f"/admin/selinon_django/flowrun/{run.pk}/change/").content
    panel = _panel(html.decode())
    assert "The 3 oldest batches of lines are not shown here: each node run's page shows its whole log." in panel
    assert "batch 2<" not in panel and "batch 3<" in panel and f"batch {len(batches) - 1}<" in panel


def test_the_live_json_returns_only_newer_lines(run: FlowRun, make_client: Any) -> None:
    first, second = _nodes(run)
    seen = _log(first, "one")
    _log(second, "two", level="ERROR")
    client = make_client("viewer", "view_flowrun")
    body = client.get(f"/admin/selinon_django/noderun/logs/run/{run.pk}/?after={seen.pk}").json()
    assert [(line["node"], line["level"], line["message"]) for line in body["lines"]] == [("Task1", "ERROR", "two")]
    assert body["lines"][0]["node_url"] == f"/admin/selinon_django/noderun/{second.pk}/change/"
    assert body["finished"] is False and body["more"] is False
    assert len(client.get(f"/admin/selinon_django/noderun/logs/run/{run.pk}/?after=²").json()["lines"]) == 2
    again = client.get(f"/admin/selinon_django/noderun/logs/run/{run.pk}/?after={body['cursor']}").json()
    assert again["lines"] == [] and again["cursor"] == body["cursor"]
    FlowRun.objects.filter(pk=run.pk).update(status="succeeded")
    assert client.get(f"/admin/selinon_django/noderun/logs/run/{run.pk}/").json()["finished"] is True
    node_body = client.get(f"/admin/selinon_django/noderun/{first.pk}/logs/").json()
    assert [line["message"] for line in node_body["lines"]] == ["one"]


def test_the_node_run_page_shows_its_own_log_and_the_api_link(run: FlowRun, make_client: Any) -> None:
    first, second = _nodes(run)
    _log(first, "mine")
    _log(second, "not mine")
    html = make_client("nodes", "view_noderun").get(f"/admin/selinon_django/noderun/{first.pk}/change/").content
    panel = _panel(html.decode())
    assert "mine" in panel and "not mine" not in panel
    assert f'data-log-url="/admin/selinon_django/noderun/{first.pk}/logs/"' in panel
    assert 'data-per-node="false"' in panel
    assert b"selinon_django/task_logs.js" in html


def test_who_may_read_the_logs(run: FlowRun, make_client: Any) -> None:
    node = _nodes(run)[0]
    _log(node, "secret-free line")
    nobody = make_client("nobody")
    assert nobody.get(f"/admin/selinon_django/noderun/logs/run/{run.pk}/").status_code == 403
    assert nobody.get(f"/admin/selinon_django/noderun/{node.pk}/logs/").status_code == 403
    node_viewer = make_client("nodes", "view_noderun")
    assert node_viewer.get(f"/admin/selinon_django/noderun/{node.pk}/logs/").status_code == 200
    assert node_viewer.get(f"/admin/selinon_django/noderun/logs/run/{run.pk}/").status_code == 403
    viewer = make_client("viewer", "view_flowrun")
    assert viewer.get("/admin/selinon_django/noderun/logs/run/nope/").status_code == 404
    assert Client().get(f"/admin/selinon_django/noderun/logs/run/{run.pk}/").status_code == 302  # to the login
