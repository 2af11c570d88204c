"""Trace rows are written with their secrets masked: users who may view runs read them (the
admin's run page and trace list, ``/api/runs/{id}/trace/``)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from selinon_django.config import SourceFile
from selinon_django.models import NodeRun, TraceEventRecord
from selinon_django.runtime import tracing
from selinon_django.runtime.api import run_flow
from selinon_django.runtime.configs import forget_configs
from selinon_django.runtime.unit_of_work import UnitOfWork
from selinon_django.trace.events import Trace
from selinon_django.trace.tracer import add_process_backend
from tests.unit.broker import CapturedBroker, install

NODES = """\
tasks:
  - name: Bad
    import: tests.integration.tasks
    classname: Fatal
    storage: Vault
  - name: Reader
    import: tests.unit.trace.unreachable
    classname: ReadsItsStorage
    storage: Vault
storages:
  - name: Vault
    import: tests.unit.trace.unreachable
    classname: UnreachableStorage
    configuration:
      url: "redis://:hunter2@localhost:1/0"
      password: hunter2
flows: [failing, reading]
"""
FLOWS = """\
flow-definitions:
  - name: failing
    edges:
      - {from: [], to: [Bad]}
  - name: reading
    edges:
      - {from: [], to: [Reader]}
"""


@pytest.fixture
def broker(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[CapturedBroker]:
    # this directory's conftest starts every test without process backends: the rows' one again
    add_process_backend(tracing.database_backend)
    yield install(monkeypatch, [SourceFile("nodes.yaml", "nodes", NODES), SourceFile("flows.yaml", "flows", FLOWS)])
    forget_configs()


def viewer_client() -> APIClient:
    user = User.objects.create_user("viewer")
    user.user_permissions.add(Permission.objects.get(codename="view_flowrun"))
    client = APIClient()
    client.force_authenticate(User.objects.get(pk=user.pk))
    return client


def test_a_storage_error_with_its_url_is_traced_without_the_password(broker: CapturedBroker) -> None:
    run_id = run_flow("failing")
    broker.drain()
    rows = {row.event: row.details for row in TraceEventRecord.objects.filter(flow_run_id=run_id)}
    # the task failed, then keeping its error in the unreachable storage failed with the URL
    issue = rows["STORAGE_ISSUE"]["what"]
    assert "Error 111 connecting to redis://:********@localhost:1/0" in issue
    assert all("hunter2" not in str(details) for details in rows.values())
    page = viewer_client().get(f"/api/runs/{run_id}/trace/")
    assert page.status_code == 200
    assert "STORAGE_ISSUE" in page.content.decode() and "hunter2" not in page.content.decode()


def test_a_task_failing_on_its_storage_keeps_the_error_without_the_password(broker: CapturedBroker) -> None:
    """The node run's exception and traceback are what its trace row, its REST detail, the run
    report and the admin's node-run page show."""
    run_id = run_flow("reading")
    broker.drain()
    node = NodeRun.objects.get(flow_run_id=run_id, name="Reader")
    assert node.status == "failed"
    assert node.exception == (
        "ConnectionError: Error 111 connecting to redis://:********@localhost:1/0. Connection refused.")
    assert "redis://:********@localhost:1/0" in node.traceback and "hunter2" not in node.traceback
    client = viewer_client()
    for url in (f"/api/node-runs/{node.pk}/", f"/api/runs/{run_id}/", f"/api/runs/{run_id}/trace/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "hunter2" not in response.content.decode(), url


def test_details_are_masked_and_json_ready_in_the_row(db: None) -> None:
    class Odd:
        def __repr__(self) -> str:
            return "Odd(dsn=postgres://u:hunter2@db/x)"

    details: dict[str, Any] = {
        "dispatcher_id": "run-1",
        "what": "Error connecting to 'postgres://u:hunter2@db/x'",
        "node_args": {"token": "hunter2", "key": "pypi/django", "mirror": "https://u:hunter2@mirror/simple"},
        "configuration": {"key": "hunter2", "host": "db"},
        "object": Odd(),
        "names": {"A"},
    }
    unit = UnitOfWork("run-1", traced=True)
    with tracing.collecting(unit):
        tracing.database_backend(Trace.STORAGE_ISSUE, details)
    unit.commit()
    row = TraceEventRecord.objects.get(flow_run_id="run-1")
    assert row.details == {
        "dispatcher_id": "run-1",
        "what": "Error connecting to 'postgres://u:********@db/x'",
        "node_args": {"token": "********", "key": "pypi/django", "mirror": "https://u:********@mirror/simple"},
        "configuration": {"key": "********", "host": "db"},
        "object": "Odd(dsn=postgres://u:********@db/x)",
        "names": ["A"],
    }
    assert details["node_args"]["token"] == "hunter2"  # other backends get the details as traced


def test_rows_keep_ordinary_details_as_they_are(db: None) -> None:
    details = {"dispatcher_id": "run-2", "flow_name": "f", "queue": "demo_tasks", "task_name": "A",
               "node_args": {"name": "django", "version": "5.2"}, "selective": False, "countdown": None}
    unit = UnitOfWork("run-2", traced=True)
    with tracing.collecting(unit):
        tracing.database_backend(Trace.TASK_SCHEDULE, dict(details))
    unit.commit()
    assert TraceEventRecord.objects.get(flow_run_id="run-2").details == details

