"""Read-only lists of node runs and trace events: filters, search, links to run pages, constant queries."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client

from selinon_django.models import ConfigRevision, NodeRun, TraceEventRecord
from tests.unit.admin.conftest import make_run

pytestmark = pytest.mark.django_db
NODE_RUNS = "/admin/selinon_django/noderun/"
TRACES = "/admin/selinon_django/traceeventrecord/"


def ids(response: Any) -> set[str]:
    assert response.status_code == 200
    return {str(row.pk) for row in response.context["cl"].result_list}


def test_node_run_list_filters_search_and_links(revision: ConfigRevision, superuser_client: Client) -> None:
    run = make_run(revision, nodes=2)
    failed = NodeRun.objects.create(id="abc-failed", flow_run=run, name="Parse", status="failed",
                                    exception="ValueError: x", traceback="Traceback (most recent call last):\nboom")
    sub = make_run(revision, flow_name="demo_sub", parent=run, nodes=0)
    subflow = NodeRun.objects.create(id=sub.pk, flow_run=run, name="demo_sub", kind="flow", status="succeeded")
    everything = ids(superuser_client.get(NODE_RUNS))
    assert {failed.pk, subflow.pk} < everything and len(everything) == 4
    assert ids(superuser_client.get(NODE_RUNS + "?status__exact=failed")) == {failed.pk}
    assert ids(superuser_client.get(NODE_RUNS + "?kind__exact=flow")) == {subflow.pk}
    assert ids(superuser_client.get(NODE_RUNS + "?name=Parse")) == {failed.pk}
    assert ids(superuser_client.get(NODE_RUNS + "?q=abc-")) == {failed.pk}
    assert ids(superuser_client.get(NODE_RUNS + f"?q={run.pk[:13]}")) == everything  # by its run's id
    content = superuser_client.get(NODE_RUNS).content.decode()
    assert f'href="/admin/selinon_django/flowrun/{run.pk}/change/"' in content
    assert f'href="/admin/selinon_django/flowrun/{sub.pk}/change/">sub-flow run</a>' in content
    page = superuser_client.get(f"{NODE_RUNS}{failed.pk}/change/").content.decode()
    assert "ValueError: x" in page and "Traceback (most recent call last):\nboom" in page


def test_node_runs_are_read_only_and_need_their_view_permission(
    revision: ConfigRevision, superuser_client: Client, make_client: Any
) -> None:
    run = make_run(revision, nodes=1)
    node = run.node_runs.get()
    assert superuser_client.get(f"{NODE_RUNS}add/").status_code == 403
    assert superuser_client.post(f"{NODE_RUNS}{node.pk}/delete/").status_code == 403
    assert superuser_client.post(f"{NODE_RUNS}{node.pk}/change/", {"status": "failed"}).status_code == 403
    assert make_client("runs", "view_flowrun").get(NODE_RUNS).status_code == 403
    assert make_client("nodes", "view_noderun").get(NODE_RUNS).status_code == 200


def test_node_run_list_takes_the_same_number_of_queries_for_many_rows(
    revision: ConfigRevision, superuser_client: Client, django_assert_max_num_queries: Any
) -> None:
    make_run(revision, nodes=2)
    superuser_client.get(NODE_RUNS)
    with django_assert_max_num_queries(30) as captured:
        superuser_client.get(NODE_RUNS)
    few = len(captured)
    for index in range(40):
        make_run(revision, nodes=3, status="failed" if index % 5 == 0 else "succeeded")
    with django_assert_max_num_queries(few):
        response = superuser_client.get(NODE_RUNS)
    assert len(response.context["cl"].result_list) == 50


def _event(run: Any, event: str, **details: Any) -> TraceEventRecord:
    return TraceEventRecord.objects.create(flow_run=run, node_run_id=str(uuid.uuid4()), event=event, details=details)


def test_trace_list_filters_by_event_and_links_to_the_run(revision: ConfigRevision, superuser_client: Client) -> None:
    run = make_run(revision, nodes=0)
    start = _event(run, "FLOW_START")
    failure = _event(run, "NODE_FAILURE", what="ValueError: " + "x" * 300)
    orphan = _event(None, "DISPATCHER_FAILURE")
    assert ids(superuser_client.get(TRACES)) == {str(start.pk), str(failure.pk), str(orphan.pk)}
    assert ids(superuser_client.get(TRACES + "?event=NODE_FAILURE")) == {str(failure.pk)}
    assert ids(superuser_client.get(TRACES + f"?q={run.pk[:13]}")) == {str(start.pk), str(failure.pk)}
    content = superuser_client.get(TRACES).content.decode()
    assert f'<a href="/admin/selinon_django/flowrun/{run.pk}/change/">demo_main {run.pk[:8]}</a>' in content
    assert "x" * 300 not in content and "…" in content  # the list shows a preview
    page = superuser_client.get(f"{TRACES}{failure.pk}/change/").content.decode()
    assert "x" * 300 in page
    assert superuser_client.get(f"{TRACES}add/").status_code == 403


def test_trace_list_takes_the_same_number_of_queries_for_many_rows(
    revision: ConfigRevision, superuser_client: Client, django_assert_max_num_queries: Any
) -> None:
    run = make_run(revision, nodes=0)
    _event(run, "FLOW_START")
    superuser_client.get(TRACES)
    with django_assert_max_num_queries(30) as captured:
        superuser_client.get(TRACES)
    few = len(captured)
    for index in range(60):
        other = make_run(revision, nodes=0)
        _event(other, "FLOW_START" if index % 2 else "FLOW_END", index=index)
    with django_assert_max_num_queries(few):
        response = superuser_client.get(TRACES)
    assert len(response.context["cl"].result_list) == 61
