"""The runs list (filters, search, a constant number of queries), the run page and the actions' permissions."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from selinon_django.models import ConfigRevision, FlowRun, NodeRun
from tests.unit.admin.conftest import make_run

pytestmark = pytest.mark.django_db
RUNS = "/admin/selinon_django/flowrun/"


def record(calls: list[Any], call: Any, returns: Any) -> Any:
    """A stand-in for a runtime API function: remember the call, return what the real one would."""
    calls.append(call)
    return returns


def list_queries(client: Client, url: str = RUNS) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_runs_list_takes_the_same_number_of_queries_for_200_runs(
    revision: ConfigRevision, superuser_client: Client, django_assert_max_num_queries: Any
) -> None:
    for _ in range(3):
        make_run(revision)
    few = list_queries(superuser_client)
    for index in range(197):
        make_run(revision, status="failed" if index % 7 == 0 else "succeeded", nodes=4)
    many = list_queries(superuser_client)
    assert many == few
    with django_assert_max_num_queries(few):
        response = superuser_client.get(RUNS + "?p=2")
    assert len(response.context["cl"].result_list) == 50
    assert response.context["cl"].result_list[0].node_total == 4


def test_runs_list_filters_and_search(revision: ConfigRevision, superuser_client: Client) -> None:
    ok = make_run(revision, node_args={"name": "needle-package"})
    failed = make_run(revision, status="failed", flow_name="analyze_files")
    old = make_run(revision)
    FlowRun.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(days=30))

    def ids(query: str) -> set[str]:
        response = superuser_client.get(RUNS + query)
        assert response.status_code == 200
        return {run.pk for run in response.context["cl"].result_list}

    assert ids("?status__exact=failed") == {failed.pk}
    assert ids("?flow=analyze_files") == {failed.pk}
    assert ids(f"?revision={revision.number}") == {ok.pk, failed.pk, old.pk}
    assert ids("?revision=99") == set()
    assert ids("?q=needle-pack") == {ok.pk}
    assert ids(f"?q={failed.pk[:8]}") == {failed.pk}
    today = timezone.now().date()
    assert ids(f"?started_from={today - timedelta(days=1)}") == {ok.pk, failed.pk}
    assert ids(f"?started_to={today - timedelta(days=10)}") == {old.pk}


def test_run_page_groups_foreach_instances_and_links_sub_flows(
    revision: ConfigRevision, superuser_client: Client
) -> None:
    parent = make_run(revision, nodes=1, status="running")
    child = make_run(revision, flow_name="analyze_files", nodes=0, parent=parent, status="running")
    NodeRun.objects.create(id=child.pk, flow_run=parent, name="analyze_files", kind="flow", status="started")
    NodeRun.objects.bulk_create(
        NodeRun(
            id=str(uuid.uuid4()),
            flow_run=child,
            name="analyze_file",
            kind="flow",
            status="failed" if i == 0 else "succeeded",
        )
        for i in range(12)
    )
    page = superuser_client.get(f"{RUNS}{parent.pk}/change/").content.decode()
    assert f'href="/admin/selinon_django/flowrun/{child.pk}/change/"' in page
    assert 'id="selinon_node_' in page and "<svg" in page

    child_page = superuser_client.get(f"{RUNS}{child.pk}/change/")
    [group] = child_page.context["snap"].groups
    assert group.name == "analyze_file" and len(group.runs) == 12
    assert group.counts == {"failed": 1, "succeeded": 11} and group.status == "failed"
    assert "x12: 1 failed, 11 succeeded" in child_page.content.decode()


def test_live_view_sends_only_what_changed_since_its_cursor(
    revision: ConfigRevision, superuser_client: Client
) -> None:
    run = make_run(revision, status="running", nodes=2)
    earlier = timezone.now() - timedelta(seconds=30)
    NodeRun.objects.filter(flow_run=run).update(updated_at=earlier)
    FlowRun.objects.filter(pk=run.pk).update(updated_at=earlier)
    first = superuser_client.get(f"{RUNS}{run.pk}/live/").json()
    assert first["status"] == "running" and not first["finished"] and "fragments" in first
    same = superuser_client.get(f"{RUNS}{run.pk}/live/", {"since": first["cursor"]}).json()
    assert "fragments" not in same and same["groups"] == [] and same["nodes"] == [] and "summary" not in same
    changed_node = NodeRun.objects.filter(flow_run=run).order_by("name").first()
    assert changed_node is not None
    NodeRun.objects.filter(pk=changed_node.pk).update(status="failed", updated_at=timezone.now())  # as the runtime does
    delta = superuser_client.get(f"{RUNS}{run.pk}/live/", {"since": same["cursor"]}).json()
    assert [row[:2] for row in delta["nodes"]] == [[changed_node.pk, "failed"]]
    assert [(group["name"], group["status"]) for group in delta["groups"]] == [(changed_node.name, "failed")]
    assert delta["cursor"] != same["cursor"]
    FlowRun.objects.filter(pk=run.pk).update(status="failed", finished_at=timezone.now())
    ended = superuser_client.get(f"{RUNS}{run.pk}/live/", {"since": delta["cursor"]}).json()
    assert ended["finished"] and ended["status"] == "failed" and "fragments" in ended


def test_run_page_needs_the_view_permission(revision: ConfigRevision, make_client: Any) -> None:
    run = make_run(revision)
    assert make_client("nobody").get(f"{RUNS}{run.pk}/change/").status_code == 403
    assert make_client("nobody2").get(f"{RUNS}{run.pk}/live/").status_code == 403
    viewer = make_client("viewer", "view_flowrun")
    page = viewer.get(f"{RUNS}{run.pk}/change/")
    assert page.status_code == 200 and b'data-action="run-again"' not in page.content


@pytest.mark.parametrize("action", ["cancel", "retry", "rerun"])
def test_steering_actions_need_change_flowrun(action: str, revision: ConfigRevision, make_client: Any) -> None:
    run = make_run(revision, status="failed")
    viewer = make_client("viewer", "view_flowrun", "add_flowrun")
    assert viewer.get(f"{RUNS}{run.pk}/{action}/").status_code == 403
    assert viewer.post(f"{RUNS}{run.pk}/{action}/").status_code == 403


def test_cancel_is_confirmed_then_calls_the_runtime(
    revision: ConfigRevision, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr("selinon_django.runtime.api.cancel_flow", lambda run_id: record(calls, run_id, 2))
    run = make_run(revision, status="running")
    client = make_client("operator", "view_flowrun", "change_flowrun")
    page = client.get(f"{RUNS}{run.pk}/change/").content.decode()
    assert 'data-action="cancel"' in page and 'data-action="retry-from-the-failure"' not in page
    confirm = client.get(f"{RUNS}{run.pk}/cancel/")
    assert confirm.status_code == 200 and b"Yes, cancel" in confirm.content and calls == []
    assert client.post(f"{RUNS}{run.pk}/cancel/").status_code == 302
    assert calls == [run.pk]


def test_retry_and_run_again_call_the_runtime(
    revision: ConfigRevision, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    retried: list[str] = []
    started: list[tuple[str, Any]] = []
    new_run = make_run(revision, status="running")  # what the stand-in for run_flow "starts"
    monkeypatch.setattr("selinon_django.runtime.api.retry_flow", lambda run_id: record(retried, run_id, run_id))
    monkeypatch.setattr(
        "selinon_django.runtime.api.run_flow",
        lambda name, args, created_by=None: record(started, (name, args), new_run.pk),
    )
    run = make_run(revision, status="failed", node_args={"name": "x"})
    client = make_client("operator", "view_flowrun", "change_flowrun")
    assert client.post(f"{RUNS}{run.pk}/retry/").status_code == 302 and retried == [run.pk]
    response = client.post(f"{RUNS}{run.pk}/rerun/")
    assert response["Location"].endswith(f"/{new_run.pk}/change/")
    assert started == [("demo_main", {"name": "x"})]


def test_start_form_validates_and_asks_for_confirmation(
    revision: ConfigRevision, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[tuple[Any, ...]] = []
    # the runs the stand-ins "start" (the start is recorded against them)
    r1, r2 = make_run(revision, status="running"), make_run(revision, status="running")
    monkeypatch.setattr(
        "selinon_django.runtime.api.run_flow",
        lambda name, args, created_by=None: record(started, (name, args, created_by.username), r1.pk),
    )
    monkeypatch.setattr(
        "selinon_django.runtime.api.run_flow_selective",
        lambda name, tasks, args, follow, subsequent, created_by=None: record(
            started, (name, tuple(tasks), follow), r2.pk
        ),
    )
    assert make_client("viewer", "view_flowrun").get(f"{RUNS}start/").status_code == 403
    client = make_client("starter", "view_flowrun", "add_flowrun")
    assert b"Start a flow" in client.get(RUNS).content

    bad = client.post(f"{RUNS}start/", {"flow_name": "demo_main", "node_args": "{nope"})
    assert "not valid JSON" in str(bad.context["form"].errors["node_args"])
    unknown = client.post(f"{RUNS}start/", {"flow_name": "no_such_flow", "node_args": "{}"})
    assert "flow_name" in unknown.context["form"].errors
    bad_task = client.post(f"{RUNS}start/", {"flow_name": "demo_main", "node_args": "{}", "selective_tasks": "Nope"})
    assert "unknown task names: Nope" in str(bad_task.context["form"].errors)

    review = client.post(f"{RUNS}start/", {"flow_name": "demo_main", "node_args": '{"name": "django"}'})
    assert review.status_code == 200 and review.context["confirming"] and started == []
    done = client.post(
        f"{RUNS}start/", {"flow_name": "demo_main", "node_args": '{"name": "django"}', "confirmed": "True"}
    )
    assert done.status_code == 302 and done["Location"].endswith(f"/{r1.pk}/change/")
    assert started == [("demo_main", {"name": "django"}, "starter")]

    client.post(
        f"{RUNS}start/",
        {
            "flow_name": "demo_main",
            "node_args": "{}",
            "selective_tasks": "FetchMetadata",
            "follow_subflows": "on",
            "confirmed": "True",
        },
    )
    assert started[-1] == ("demo_main", ("FetchMetadata",), True)
