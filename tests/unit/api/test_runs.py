"""Runs over HTTP: start (and every refusal), list with filters and pagination, report, cancel,
retry, trace events, graph, the own-runs-only setting and throttling."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from selinon_django.models import ConfigRevision, FlowRun, NodeRun, OutboxMessage, TraceEventRecord
from selinon_django.revisions import load_revision
from selinon_django.runtime.wakeups import PENDING
from tests.unit.api.conftest import FLOWS_YAML, NODES_YAML, counts, sources

pytestmark = pytest.mark.django_db

RUNS = "/api/runs/"


# --- create ------------------------------------------------------------------------------------


def test_create_starts_the_flow_and_links_to_it(api: APIClient, revision: ConfigRevision, enqueued: list[Any]) -> None:
    response = api.post(RUNS, {"flow_name": "main", "node_args": {"url": "x"}}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    run = FlowRun.objects.get(pk=body["id"])
    # the first step ran in the request's transaction (START_INLINE): its first task is sent
    assert (run.flow_name, run.node_args, run.status, run.revision_id) == ("main", {"url": "x"}, "running", revision.pk)
    assert run.created_by is not None and run.created_by.username == "operator"
    assert body["url"].endswith(f"/api/runs/{run.pk}/")
    assert response["Location"] == body["url"]
    assert (body["flow_name"], body["status"], body["revision"]) == ("main", "running", revision.number)
    # the first task's message waits for the commit; its node-run row records it
    assert [(m.kwargs["task_name"], m.kwargs["dispatcher_id"]) for m in enqueued] == [("Fetch", run.pk)]
    assert enqueued[0].recorded and OutboxMessage.objects.count() == 0
    assert list(NodeRun.objects.filter(flow_run=run).values_list("name", "status")) == [("Fetch", "sent")]


@override_settings(SELINON_DJANGO={"START_INLINE": False})
def test_create_without_inline_start_sends_a_dispatcher_message(
    api: APIClient, revision: ConfigRevision, enqueued: list[Any]
) -> None:
    run = FlowRun.objects.get(pk=api.post(RUNS, {"flow_name": "main"}, format="json").json()["id"])
    assert (run.status, run.next_wakeup_at) == ("pending", PENDING)  # the row records the message
    assert [m.kwargs["run_id"] for m in enqueued] == [run.pk] and enqueued[0].recorded



def test_create_without_node_args(api: APIClient, revision: ConfigRevision) -> None:
    response = api.post(RUNS, {"flow_name": "other"}, format="json")
    assert response.status_code == 201
    assert FlowRun.objects.get(pk=response.json()["id"]).node_args is None


def test_create_selective_run(api: APIClient, revision: ConfigRevision) -> None:
    response = api.post(RUNS, {"flow_name": "main", "task_names": ["Parse"], "node_args": [1, 2]}, format="json")
    assert response.status_code == 201, response.content
    run = FlowRun.objects.get(pk=response.json()["id"])
    assert run.selective is not None
    assert run.node_args == [1, 2]


def test_created_run_reads_back(api: APIClient, revision: ConfigRevision) -> None:
    url = api.post(RUNS, {"flow_name": "main", "node_args": {"a": 1}}, format="json").json()["url"]
    report = api.get(url).json()
    assert (report["flow"], report["status"], report["node_args"]) == ("main", "running", {"a": 1})
    assert [(n["name"], n["status"]) for n in report["nodes"]] == [("Fetch", "sent")]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"flow_name": "nope"}, "flow_name"),
        ({}, "flow_name"),
        ({"flow_name": ["main"]}, "flow_name"),
        ({"flow_name": "main", "task_names": ["Nope"]}, "task_names"),
        ({"flow_name": "main", "task_names": "Parse"}, "task_names"),
        ({"flow_name": "main", "task_names": []}, "task_names"),
        ({"flow_name": "main", "task_names": [{"a": 1}]}, "task_names"),
        # Lonely is a task of the configuration but no path of main reaches it
        ({"flow_name": "main", "task_names": ["Lonely"]}, "task_names"),
        ({"flow_name": "main", "follow_subflows": "maybe"}, "follow_subflows"),
        ({"flow_name": "main", "run_subsequent": True}, "task_names"),
    ],
)
def test_create_refuses_bad_input_with_field_errors(
    api: APIClient, revision: ConfigRevision, body: dict[str, Any], field: str
) -> None:
    before = counts()
    response = api.post(RUNS, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert counts() == before


def test_create_refuses_node_args_over_the_limit(api: APIClient, revision: ConfigRevision) -> None:
    before = counts()
    with override_settings(SELINON_DJANGO={"MAX_NODE_ARGS_BYTES": 20, "IMPORT_PREFIXES": ["demo_project."]}):
        too_big = api.post(RUNS, {"flow_name": "main", "node_args": {"text": "x" * 20}}, format="json")
        small = api.post(RUNS, {"flow_name": "main", "node_args": {"t": "x"}}, format="json")
    assert too_big.status_code == 400
    assert "limit is 20" in too_big.json()["node_args"][0]
    assert small.status_code == 201
    assert counts()[0] == before[0] + 1


def test_create_refuses_malformed_json(api: APIClient, revision: ConfigRevision) -> None:
    before = counts()
    response = api.post(RUNS, data='{"flow_name": "main", "node_args": {', content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert counts() == before


def test_create_refuses_form_data(api: APIClient, revision: ConfigRevision) -> None:
    """node_args are JSON; a form post could only give strings, so it is not accepted at all."""
    response = api.post(RUNS, {"flow_name": "main"})  # multipart
    assert response.status_code == 415
    assert FlowRun.objects.count() == 0


def test_create_without_configuration(api: APIClient) -> None:
    response = api.post(RUNS, {"flow_name": "main"}, format="json")
    assert response.status_code == 400
    assert "no configuration" in response.json()["flow_name"][0]


def test_create_uses_the_current_revision(api: APIClient, revision: ConfigRevision) -> None:
    newer = load_revision(load_config_from_flows(FLOWS_YAML.replace("to: Lonely", "to: Report")))[0]
    run_id = api.post(RUNS, {"flow_name": "other"}, format="json").json()["id"]
    assert FlowRun.objects.get(pk=run_id).revision_id == newer.pk


def load_config_from_flows(flows: str) -> Any:
    from selinon_django.config import load_config_from_sources

    return load_config_from_sources(sources(NODES_YAML, flows))


# --- throttling --------------------------------------------------------------------------------


def test_run_starts_are_throttled_by_the_selinon_runs_scope(api: APIClient, revision: ConfigRevision) -> None:
    rest = {"DEFAULT_THROTTLE_RATES": {"selinon_runs": "2/minute"}}
    with override_settings(REST_FRAMEWORK=rest):
        statuses = [api.post(RUNS, {"flow_name": "other"}, format="json").status_code for _ in range(3)]
        listing = api.get(RUNS)  # reading is not throttled by this scope
    assert statuses == [201, 201, 429]
    assert listing.status_code == 200
    assert FlowRun.objects.count() == 2


def test_run_starts_are_not_throttled_without_a_rate(api: APIClient, revision: ConfigRevision) -> None:
    statuses = {api.post(RUNS, {"flow_name": "other"}, format="json").status_code for _ in range(5)}
    assert statuses == {201}


# --- list --------------------------------------------------------------------------------------


def test_list_is_paginated_newest_first(api: APIClient, make_run: Callable[..., FlowRun]) -> None:
    now = timezone.now()
    runs = [make_run(created_at=now - timedelta(minutes=i)) for i in range(5)]
    page = api.get(RUNS, {"page_size": 2}).json()
    assert page["count"] == 5
    assert [r["id"] for r in page["results"]] == [runs[0].pk, runs[1].pk]
    assert page["next"] is not None
    last = api.get(RUNS, {"page_size": 2, "page": 3}).json()
    assert [r["id"] for r in last["results"]] == [runs[4].pk]
    assert api.get(RUNS, {"page": 99}).status_code == 404


def test_list_row_shape(api: APIClient, make_run: Callable[..., FlowRun], revision: ConfigRevision,
                        viewer: User) -> None:
    run = make_run(created_by=viewer, error="boom", status="failed")
    row = api.get(RUNS).json()["results"][0]
    assert row["id"] == run.pk
    assert row["url"].endswith(f"/api/runs/{run.pk}/")
    assert (row["flow_name"], row["status"], row["revision"], row["created_by"], row["error"]) == (
        "main", "failed", revision.number, "viewer", "boom")
    assert row["parent_run"] is None


def test_list_costs_the_same_queries_for_many_rows(
    api: APIClient, make_run: Callable[..., FlowRun], viewer: User,
    django_assert_max_num_queries: Any,
) -> None:
    api.get(RUNS)  # warm the permission cache of the user object
    for _ in range(3):
        make_run(created_by=viewer)
    with django_assert_max_num_queries(2):  # count + page (revision and creator joined)
        assert len(api.get(RUNS).json()["results"]) == 3
    for _ in range(30):
        make_run(created_by=viewer)
    with django_assert_max_num_queries(2):
        assert len(api.get(RUNS).json()["results"]) == 33


def test_list_page_reads_no_state_or_configuration(
    api: APIClient, make_run: Callable[..., FlowRun], viewer: User,
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_run(created_by=viewer)
    api.get(RUNS)
    with CaptureQueriesContext(connection) as queries:
        assert len(api.get(RUNS).json()["results"]) == 1
    page = [q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"]]
    assert page and all('"state"' not in sql and '"normalised"' not in sql for sql in page)


def test_list_filters(api: APIClient, make_run: Callable[..., FlowRun], revision: ConfigRevision) -> None:
    now = timezone.now()
    root = make_run("main", "running", created_at=now - timedelta(hours=2), started_at=now - timedelta(hours=2))
    child = make_run("sub", "failed", parent_run=root, root_run=root, created_at=now - timedelta(hours=1))
    other = make_run("other", "succeeded", created_at=now, started_at=now)
    newer = load_revision(load_config_from_flows(FLOWS_YAML.replace("to: Lonely", "to: Report")))[0]
    pinned = FlowRun.objects.create(id="pinned", flow_name="other", revision=newer, created_at=now)

    def ids(**params: Any) -> set[str]:
        response = api.get(RUNS, params)
        assert response.status_code == 200, response.content
        return {r["id"] for r in response.json()["results"]}

    assert ids(flow="other") == {other.pk, pinned.pk}
    assert ids(status="failed") == {child.pk}
    assert ids(status="failed,succeeded") == {child.pk, other.pk}
    assert ids(revision=revision.number) == {root.pk, child.pk, other.pk}
    assert ids(revision=newer.number) == {pinned.pk}
    assert ids(parent=root.pk) == {child.pk}
    assert ids(top_level="true") == {root.pk, other.pk, pinned.pk}
    assert ids(top_level="false") == {child.pk}
    assert ids(created_after=(now - timedelta(minutes=90)).isoformat()) == {child.pk, other.pk, pinned.pk}
    assert ids(created_before=(now - timedelta(minutes=90)).isoformat()) == {root.pk}
    assert ids(started_after=(now - timedelta(minutes=1)).isoformat()) == {other.pk}
    assert ids(started_before=(now - timedelta(minutes=1)).isoformat()) == {root.pk}
    assert ids(flow="main", status="running") == {root.pk}
    ordered = [r["id"] for r in api.get(RUNS, {"ordering": "created_at"}).json()["results"]]
    assert ordered[:2] == [root.pk, child.pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "exploded"}, "status"),
        ({"revision": "two"}, "revision"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"started_before": "2024-13-45"}, "started_before"),
        ({"top_level": "perhaps"}, "top_level"),
    ],
)
def test_list_refuses_bad_filters(api: APIClient, make_run: Callable[..., FlowRun], params: dict[str, str],
                                  field: str) -> None:
    make_run()
    response = api.get(RUNS, params)
    assert response.status_code == 400
    assert field in response.json()


# --- detail (the report) -----------------------------------------------------------------------


def test_detail_is_the_run_report_tree(api: APIClient, make_run: Callable[..., FlowRun],
                                       revision: ConfigRevision) -> None:
    now = timezone.now()
    run = make_run("main", "failed", node_args={"n": 1}, error="Fetch failed", started_at=now, result=None)
    fetch = NodeRun.objects.create(id="t-fetch", flow_run=run, name="Fetch", status="failed", attempts=2,
                                   exception="ValueError: bad", node_args={"n": 1}, created_at=now)
    child = make_run("sub", "succeeded", parent_run=run, root_run=run, parent_node_id="n-sub")
    NodeRun.objects.create(id=child.pk, flow_run=run, name="sub", kind="flow", status="succeeded",
                           created_at=now + timedelta(seconds=1))
    NodeRun.objects.create(id="t-report", flow_run=child, name="Report", status="succeeded", result={"ok": True},
                           created_at=now + timedelta(seconds=2))
    report = api.get(f"{RUNS}{run.pk}/").json()
    assert (report["flow"], report["id"], report["status"], report["error"]) == ("main", run.pk, "failed",
                                                                                   "Fetch failed")
    assert report["revision"] == revision.number
    assert report["node_args"] == {"n": 1}
    assert [n["name"] for n in report["nodes"]] == ["Fetch", "sub"]
    first = report["nodes"][0]
    assert (first["id"], first["status"], first["attempts"], first["exception"]) == (fetch.pk, "failed", 2,
                                                                                     "ValueError: bad")
    assert first["url"].endswith("/api/node-runs/t-fetch/")
    nested = report["nodes"][1]["run"]
    assert (nested["flow"], nested["status"]) == ("sub", "succeeded")
    assert nested["nodes"][0]["result"] == {"ok": True}
    assert nested["nodes"][0]["url"].endswith("/api/node-runs/t-report/")


def test_detail_of_unknown_run_is_404(api: APIClient, revision: ConfigRevision) -> None:
    assert api.get(f"{RUNS}nope/").status_code == 404


# --- cancel and retry --------------------------------------------------------------------------


def test_cancel_revokes_the_run(api: APIClient, make_run: Callable[..., FlowRun]) -> None:
    run = make_run("main", "running")
    NodeRun.objects.create(id="t1", flow_run=run, name="Fetch", status="started")
    response = api.post(f"{RUNS}{run.pk}/cancel/")
    assert response.status_code == 200, response.content
    assert response.json() == {"id": run.pk, "status": "revoked", "detail": "1 node runs revoked"}
    assert NodeRun.objects.get(pk="t1").status == "revoked"


def test_cancel_of_finished_run_is_a_conflict(api: APIClient, make_run: Callable[..., FlowRun]) -> None:
    run = make_run("main", "succeeded")
    response = api.post(f"{RUNS}{run.pk}/cancel/")
    assert response.status_code == 409
    assert "already succeeded" in response.json()["detail"]
    assert FlowRun.objects.get(pk=run.pk).status == "succeeded"


def test_retry_restarts_the_failed_nodes(api: APIClient, make_run: Callable[..., FlowRun]) -> None:
    run = make_run("main", "failed", state={"active_nodes": [], "finished_nodes": {}, "failed_nodes": {"Fetch": ["t1"]},
                                            "waiting_edges": [1], "triggered_edges": [0]})
    NodeRun.objects.create(id="t1", flow_run=run, name="Fetch", status="failed", node_args={"a": 1})
    response = api.post(f"{RUNS}{run.pk}/retry/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "running"
    again = NodeRun.objects.exclude(pk="t1").get()
    assert (again.name, again.status, again.node_args) == ("Fetch", "sent", {"a": 1})


@pytest.mark.parametrize("state", ["running", "succeeded", "revoked"])
def test_retry_of_a_run_that_did_not_fail_is_a_conflict(api: APIClient, make_run: Callable[..., FlowRun],
                                                        state: str) -> None:
    run = make_run("main", state)
    response = api.post(f"{RUNS}{run.pk}/retry/")
    assert response.status_code == 409
    assert "only a failed run" in response.json()["detail"]


def test_cancel_and_retry_of_unknown_run_are_404(api: APIClient, revision: ConfigRevision) -> None:
    assert api.post(f"{RUNS}nope/cancel/").status_code == 404
    assert api.post(f"{RUNS}nope/retry/").status_code == 404


# --- trace events and graph --------------------------------------------------------------------


def test_trace_events_are_paginated_oldest_first(api: APIClient, make_run: Callable[..., FlowRun]) -> None:
    run, other = make_run(), make_run()
    now = timezone.now()
    for i in range(3):
        TraceEventRecord.objects.create(flow_run=run, event=f"E{i}", details={"i": i},
                                        created_at=now + timedelta(seconds=i))
    TraceEventRecord.objects.create(flow_run=other, event="OTHER")
    page = api.get(f"{RUNS}{run.pk}/trace/", {"page_size": 2}).json()
    assert page["count"] == 3
    assert [e["event"] for e in page["results"]] == ["E0", "E1"]
    assert page["results"][0]["details"] == {"i": 0}
    assert page["results"][0]["flow_run"] == run.pk
    assert [e["event"] for e in api.get(page["next"]).json()["results"]] == ["E2"]


def test_graph_is_coloured_by_node_state(api: APIClient, make_run: Callable[..., FlowRun]) -> None:
    from selinon_django.graph import STATE_COLOURS

    run = make_run("main", "failed")
    NodeRun.objects.create(id="t1", flow_run=run, name="Fetch", status="failed")
    response = api.get(f"{RUNS}{run.pk}/graph/", {"format": "svg"})
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    svg = response.content.decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert STATE_COLOURS["failed"] in svg
    dot = api.get(f"{RUNS}{run.pk}/graph/", {"format": "dot"})
    assert dot.status_code == 200
    assert dot["Content-Type"].startswith("text/vnd.graphviz")


def test_graph_of_unknown_run_is_a_json_404(api: APIClient, revision: ConfigRevision) -> None:
    response = api.get(f"{RUNS}nope/graph/", {"format": "svg"})
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in json.loads(response.content)


# --- own runs only -----------------------------------------------------------------------------


def test_own_runs_only_hides_other_users_runs(
    make_run: Callable[..., FlowRun], make_user: Callable[..., User], client_for: Callable[[User | None], APIClient],
) -> None:
    alice = make_user("view_flowrun", "change_flowrun", username="alice")
    bob = make_user("view_flowrun", username="bob")
    boss = make_user(superuser=True, username="boss")
    mine = make_run(created_by=alice)
    child = make_run("sub", parent_run=mine, root_run=mine)
    NodeRun.objects.create(id="alice-node", flow_run=child, name="Report")
    theirs = make_run(created_by=bob)
    NodeRun.objects.create(id="bob-node", flow_run=theirs, name="Fetch")
    alice_api = client_for(alice)
    with override_settings(SELINON_DJANGO={"API_RUNS_OWN_ONLY": True}):
        assert {r["id"] for r in alice_api.get(RUNS).json()["results"]} == {mine.pk, child.pk}
        assert alice_api.get(f"{RUNS}{theirs.pk}/").status_code == 404
        assert alice_api.post(f"{RUNS}{theirs.pk}/cancel/").status_code == 404
        assert alice_api.get(f"{RUNS}{theirs.pk}/trace/").status_code == 404
        assert alice_api.get("/api/node-runs/bob-node/").status_code == 404
        assert alice_api.get("/api/node-runs/alice-node/").status_code == 200
        assert len(client_for(boss).get(RUNS).json()["results"]) == 3
    # without the setting everyone with view_flowrun sees every run
    assert len(alice_api.get(RUNS).json()["results"]) == 3
    assert FlowRun.objects.get(pk=theirs.pk).status == "running"
