"""The run page of big runs, through the admin as a view-only user: a foreach of 1,000 is one group
and one timeline row, its instances come a page at a time with their items, search finds node
runs, a nested run shows its tree and every ancestor, skipped nodes are not pending, and the
page keeps a history of tries and of who acted on the run."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from selinon_django.graph import STATE_COLOURS
from selinon_django.models import ConfigRevision, FlowRun, NodeRun, RunAction, RunAttempt
from tests.unit.admin.conftest import make_run

pytestmark = pytest.mark.django_db
RUNS = "/admin/selinon_django/flowrun/"
DASH = "\u2013"  # the pager's "1-50 of 120"


@pytest.fixture()
def viewer(make_client: Any) -> Client:
    return make_client("viewer", "view_flowrun", "view_noderun")  # type: ignore[no-any-return]


def foreach_run(revision: ConfigRevision, count: int, *, status: str = "succeeded", items: bool = True) -> FlowRun:
    """An ``analyze_files`` run whose ``analyze_file`` foreach has ``count`` instances (sub-flow
    nodes whose node_args are their items), the first 3 failed."""
    run = make_run(revision, flow_name="analyze_files", status=status, nodes=0)
    start = run.created_at
    NodeRun.objects.bulk_create(
        NodeRun(
            id=f"{i:04d}-{uuid.uuid4()}", flow_run=run, name="analyze_file", kind="task",
            status="failed" if i < 3 else "succeeded", node_args={"path": f"file-{i}.py"} if items else {"x": 1},
            exception=f"ValueError: cannot parse file-{i}.py" if i < 3 else "",
            created_at=start + timedelta(milliseconds=i), sent_at=start + timedelta(milliseconds=i),
            started_at=start + timedelta(milliseconds=10 + i), finished_at=start + timedelta(milliseconds=60 + 2 * i),
            attempts=1,
        )
        for i in range(count)
    )
    return run


def test_a_foreach_of_1000_is_one_group_and_one_timeline_row_in_a_fixed_number_of_queries(
    revision: ConfigRevision, viewer: Client
) -> None:
    small = foreach_run(revision, 10)
    with CaptureQueriesContext(connection) as few:
        assert viewer.get(f"{RUNS}{small.pk}/change/").status_code == 200
    run = foreach_run(revision, 1000)
    with CaptureQueriesContext(connection) as many:
        page = viewer.get(f"{RUNS}{run.pk}/change/")
    assert len(many) <= len(few)  # (the first page read warms the revision's configuration)
    html = page.content.decode()
    assert html.count('class="selinon-group"') == 1 and html.count('class="selinon-timeline-group"') == 1
    assert "\u00d71000: 3 failed, 997 succeeded" in html
    assert "more node runs" not in html and "more instances" not in html  # nothing left out silently
    assert 'data-lazy="true"' in html  # its instances are loaded when it is opened
    assert "p50" in html and "p95" in html  # the row's distribution of durations
    assert len(html) < 250_000


def test_instances_come_a_page_at_a_time_labelled_with_their_item_and_sorted(
    revision: ConfigRevision, viewer: Client
) -> None:
    run = foreach_run(revision, 120)
    url = f"{RUNS}{run.pk}/instances/"
    first = viewer.get(url, {"name": "analyze_file"}).content.decode()
    assert first.count('class="selinon-instance"') == 50 and f"1{DASH}50 of 120" in first
    assert "file-0.py" in first and 'data-offset="50"' in first
    last = viewer.get(url, {"name": "analyze_file", "offset": 100}).content.decode()
    assert last.count('class="selinon-instance"') == 20 and f"101{DASH}120 of 120" in last and "next" not in last
    failed = viewer.get(url, {"name": "analyze_file", "status": "failed"}).content.decode()
    assert failed.count('class="selinon-instance"') == 3 and "cannot parse file-1.py" in failed
    longest = viewer.get(url, {"name": "analyze_file", "sort": "longest", "view": "timeline"}).content.decode()
    assert longest.index("file-119.py") < longest.index("file-118.py")  # longest first
    assert longest.count('class="selinon-timeline-row selinon-timeline-instance"') == 120  # 200 per page

    same_args = foreach_run(revision, 4, items=False)
    labels = viewer.get(f"{RUNS}{same_args.pk}/change/").content.decode()
    assert "#4" in labels  # tasks never see their item: their place among the instances
    listed = viewer.get(f"{RUNS}{same_args.pk}/instances/", {"name": "analyze_file", "view": "timeline"})
    assert ">#1</a>" in listed.content.decode() and '"x": 1' not in listed.content.decode()


def test_search_finds_node_runs_by_item_error_status_and_id(revision: ConfigRevision, viewer: Client) -> None:
    run = foreach_run(revision, 60)
    url = f"{RUNS}{run.pk}/search/"
    by_item = viewer.get(url, {"q": "file-42.py"}).content.decode()
    assert by_item.count('class="selinon-instance"') == 1 and f"1{DASH}1 of 1" in by_item
    assert viewer.get(url, {"q": "cannot parse"}).content.decode().count('class="selinon-instance"') == 3
    assert f"1{DASH}3 of 3" in viewer.get(url, {"q": "failed"}).content.decode()
    node = NodeRun.objects.filter(flow_run=run).order_by("id").first()
    assert node is not None
    assert node.id in viewer.get(url, {"q": node.id[:12]}).content.decode()
    assert "No node run matches" in viewer.get(url, {"q": "nothing-like-this"}).content.decode()


def test_a_nested_run_shows_its_tree_and_breadcrumbs_that_skip_no_level(
    revision: ConfigRevision, viewer: Client
) -> None:
    root = make_run(revision, flow_name="demo_main", nodes=1)
    middle = make_run(revision, flow_name="analyze_package", nodes=1, parent=root)
    NodeRun.objects.create(id=middle.pk, flow_run=root, name="analyze_package", kind="flow", status="succeeded")
    leaf = make_run(revision, flow_name="analyze_files", nodes=2, parent=middle)
    NodeRun.objects.create(id=leaf.pk, flow_run=middle, name="analyze_files", kind="flow", status="succeeded")
    deepest = make_run(revision, flow_name="analyze_file", nodes=1, parent=leaf)
    NodeRun.objects.create(id=deepest.pk, flow_run=leaf, name="analyze_file", kind="flow", status="succeeded")

    page = viewer.get(f"{RUNS}{deepest.pk}/change/").content.decode()
    crumbs = page[page.index('class="breadcrumbs"'):page.index("</div>", page.index('class="breadcrumbs"'))]
    positions = [crumbs.index(f"/{run.pk}/change/") for run in (root, middle, leaf)]
    assert positions == sorted(positions)  # top-level first, every level

    tree = viewer.get(f"{RUNS}{root.pk}/change/").content.decode()
    part = tree[tree.index('id="selinon-part-tree"'):tree.index('id="selinon-part-timeline"')]
    for run in (middle, leaf, deepest):
        assert f'data-run="{run.pk}"' in part
    assert part.index(middle.pk) < part.index(leaf.pk) < part.index(deepest.pk)


def test_nodes_behind_a_false_condition_are_skipped_not_pending(revision: ConfigRevision, viewer: Client) -> None:
    config = revision.system_config()
    flow = config.flows["demo_main"]
    run = make_run(revision, flow_name="demo_main", status="succeeded", nodes=0)
    ran = list(flow.ordered_nodes())[:1]
    NodeRun.objects.create(id=str(uuid.uuid4()), flow_run=run, name=ran[0], status="succeeded")
    FlowRun.objects.filter(pk=run.pk).update(state={"active_nodes": [], "finished_nodes": {ran[0]: ["x"]},
                                                     "failed_nodes": {}, "waiting_edges": [], "triggered_edges": []})
    page = viewer.get(f"{RUNS}{run.pk}/change/").content.decode()
    assert 'data-verdict="skipped"' in page
    assert STATE_COLOURS["skipped"] in page  # drawn in the skipped colour in the graph and legend


def test_history_numbers_the_tries_and_names_who_acted(
    revision: ConfigRevision, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = make_run(revision, status="failed", nodes=0, error="flow failed (failed_nodes): ['Task0']")
    NodeRun.objects.create(id=str(uuid.uuid4()), flow_run=run, name="Task0", status="failed",
                           exception="RuntimeError: first try\ntraceback...", created_at=run.created_at)
    monkeypatch.setattr("selinon_django.runtime.api.retry_flow", lambda run_id: RunAttempt.ended(
        FlowRun.objects.get(pk=run_id), RunAttempt.Cause.RETRY, timezone.now()).save())
    operator = make_client("operator", "view_flowrun", "change_flowrun")
    assert operator.post(f"{RUNS}{run.pk}/retry/").status_code == 302
    FlowRun.objects.filter(pk=run.pk).update(status="succeeded", error="")
    NodeRun.objects.create(id=str(uuid.uuid4()), flow_run=run, name="Task0", status="succeeded")

    page = operator.get(f"{RUNS}{run.pk}/change/")
    html = page.content.decode()
    tries = page.context["snap"].history.tries
    assert [(t.number, t.status) for t in tries] == [(1, "failed"), (2, "succeeded")]
    assert [node.error for node in tries[0].failed] == ["RuntimeError: first try"]
    assert 'data-try="1" data-status="failed"' in html and "RuntimeError: first try" in html
    assert 'data-action="retry"' in html and "by operator via admin" in html
    # the group's status is its latest try's
    [group] = page.context["snap"].groups
    assert group.status == "succeeded" and group.counts == {"failed": 1, "succeeded": 1}


def test_commands_and_the_rest_api_record_who_acted(revision: ConfigRevision, monkeypatch: pytest.MonkeyPatch,
                                                    make_client: Any) -> None:
    run = make_run(revision, status="running", nodes=0)
    monkeypatch.setattr("selinon_django.runtime.api.cancel_flow", lambda run_id: 4)
    call_command("selinon_cancel", run.pk)
    user = User.objects.create_user("api-user", password="pw")
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_flowrun", "change_flowrun"]))
    client = APIClient()
    client.force_authenticate(user)
    assert client.post(f"/api/runs/{run.pk}/cancel/").status_code == 200
    actions = list(RunAction.objects.filter(run=run).values_list("action", "via", "detail"))
    assert actions == [("cancel", "command", "4 node run(s) revoked"), ("cancel", "api", "4 node run(s) revoked")]
    assert RunAction.objects.get(run=run, via="api").user == user
