"""A foreach group keeps one colour while it works through its instances (it flickered between polls).

The live endpoint's colour of a group of instances came from its most "alive" instance status:
started while one ran, sent in the gap before the next one started, retried while one waited for
its retry; the graph node changed colour at every poll.
"""
from __future__ import annotations

import uuid

import pytest
from django.test import Client

from selinon_django.graph import STATE_COLOURS
from selinon_django.models import ConfigRevision, NodeRun
from tests.unit.admin.conftest import make_run

pytestmark = pytest.mark.django_db
RUNS = "/admin/selinon_django/flowrun/"


def colour_of(client: Client, run_id: str, name: str) -> str:
    response = client.get(f"{RUNS}{run_id}/live/")
    assert response.status_code == 200
    [node] = [node for node in response.json()["groups"] if node["name"] == name]
    return str(node["colour"])


def test_a_foreach_in_progress_keeps_the_running_colour(revision: ConfigRevision, make_client: object) -> None:
    client = make_client("viewer", "view_flowrun")  # type: ignore[operator]
    run = make_run(revision, status="running", nodes=0)
    ids = [str(uuid.uuid4()) for _ in range(5)]
    NodeRun.objects.bulk_create(NodeRun(id=i, flow_run=run, name="analyze_file", status="sent") for i in ids)
    assert colour_of(client, run.pk, "analyze_file") == STATE_COLOURS["sent"]  # nothing began yet

    moments = [
        ["started", "sent", "sent", "sent", "sent"],  # the first one runs
        ["succeeded", "sent", "sent", "sent", "sent"],  # the gap before the next one starts
        ["succeeded", "started", "sent", "sent", "sent"],
        ["succeeded", "retried", "sent", "sent", "sent"],  # one waits for its retry
        ["succeeded", "succeeded", "failed", "received", "sent"],
    ]
    seen = set()
    for statuses in moments:
        for node_id, status in zip(ids, statuses, strict=True):
            NodeRun.objects.filter(pk=node_id).update(status=status)
        seen.add(colour_of(client, run.pk, "analyze_file"))
    assert seen == {STATE_COLOURS["started"]}

    NodeRun.objects.filter(pk__in=ids).update(status="succeeded")
    NodeRun.objects.filter(pk=ids[2]).update(status="failed")
    assert colour_of(client, run.pk, "analyze_file") == STATE_COLOURS["failed"]


def test_a_single_node_shows_its_own_status(revision: ConfigRevision, make_client: object) -> None:
    client = make_client("viewer", "view_flowrun")  # type: ignore[operator]
    run = make_run(revision, status="running", nodes=0)
    NodeRun.objects.create(id=str(uuid.uuid4()), flow_run=run, name="Task0", status="retried")
    assert colour_of(client, run.pk, "Task0") == STATE_COLOURS["retried"]
