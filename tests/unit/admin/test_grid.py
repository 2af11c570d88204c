"""The grid of one flow: its latest runs across (oldest left), its nodes down in the flow's order,
each cell coloured by what the node did in that run (a foreach is one cell)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from selinon_django.graph import STATE_COLOURS
from selinon_django.models import ConfigRevision, FlowRun, NodeRun
from tests.unit.admin.conftest import make_run

pytestmark = pytest.mark.django_db
GRID = "/admin/selinon_django/flowrun/grid/"


def node(run: FlowRun, name: str, status: str) -> NodeRun:
    return NodeRun.objects.create(id=str(uuid.uuid4()), flow_run=run, name=name, status=status)


def test_runs_across_nodes_down_coloured_by_status(revision: ConfigRevision, make_client: Any) -> None:
    client: Client = make_client("viewer", "view_flowrun")
    old = make_run(revision, flow_name="analyze_files", status="failed", nodes=0)
    FlowRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=1))
    new = make_run(revision, flow_name="analyze_files", status="running", nodes=0)
    make_run(revision, flow_name="demo_main")  # another flow: not in this grid
    node(old, "Extra", "failed")
    for status in ("succeeded", "started", "sent"):
        node(new, "Extra", status)  # a foreach in progress: one cell

    response = client.get(GRID + "?flow=analyze_files")
    assert response.status_code == 200
    grid = response.context["grid"]
    assert [run.pk for run in grid.runs] == [old.pk, new.pk]
    [row] = [row for row in grid.rows if row.name == "Extra"]
    assert [cell.status for cell in row.cells] == ["failed", "started"]
    assert row.cells[1].counts == {"succeeded": 1, "started": 1, "sent": 1}
    html = response.content.decode()
    assert f'href="/admin/selinon_django/flowrun/{new.pk}/change/"' in html
    assert f"--selinon-state:{STATE_COLOURS['failed']}" in html and "Extra: 1 sent, 1 started, 1 succeeded" in html
    # rows of the flow's own nodes come first, in the order of its edges, even where no run reached them
    names = [row.name for row in grid.rows]
    assert names[-1] == "Extra" and len(names) > 1


def test_the_grid_reads_two_tables_once(revision: ConfigRevision, make_client: Any) -> None:
    client: Client = make_client("viewer", "view_flowrun")
    for _ in range(3):
        make_run(revision, nodes=2)
    client.get(GRID + "?flow=demo_main")  # the session and the revision's parsed configuration, once
    with CaptureQueriesContext(connection) as few:
        client.get(GRID + "?flow=demo_main")
    for _ in range(20):
        make_run(revision, nodes=5)
    with CaptureQueriesContext(connection) as many:
        response = client.get(GRID + "?flow=demo_main&runs=15")
    assert len(many) == len(few) and len(response.context["grid"].runs) == 15


def test_the_grid_needs_view_flowrun_and_bounds_its_input(revision: ConfigRevision, make_client: Any) -> None:
    assert make_client("nobody").get(GRID).status_code == 403
    client: Client = make_client("viewer", "view_flowrun")
    assert client.get(GRID + "?runs=%C2%B2").status_code == 200
    assert client.get(GRID + "?runs=100000").context["limit"] == 30
    assert client.get(GRID + "?flow=no_such_flow").status_code == 200
    page = client.get("/admin/selinon_django/flowrun/?flow=demo_main").content.decode()
    assert 'href="/admin/selinon_django/flowrun/grid/?flow=demo_main"' in page
