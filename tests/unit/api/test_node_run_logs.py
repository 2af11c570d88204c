"""``/api/node-runs/{id}/logs/``: a node run's log lines, paginated, followed with ``?after=``,
visible to whoever may view the node run and to nobody else."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from rest_framework.test import APIClient

from selinon_django.models import FlowRun, NodeRun, NodeRunLog

pytestmark = pytest.mark.django_db


def _logged(run: FlowRun, node_id: str = "t-1", batches: int = 3) -> list[NodeRunLog]:
    NodeRun.objects.create(id=node_id, flow_run=run, name="Fetch", status="started", attempts=1)
    return [
        NodeRunLog.objects.create(
            flow_run=run, node_run_id=node_id, attempt=1 + index // 2, size=10,
            lines=[[1_700_000_000.25 + index, "INFO", "app.Fetch", f"batch {index} line {line}"] for line in range(2)],
        )
        for index in range(batches)
    ]


def test_lines_come_in_batches_oldest_first(client_for: Callable[[User | None], APIClient], viewer: User,
                                              make_run: Callable[..., FlowRun]) -> None:
    batches = _logged(make_run())
    body = client_for(viewer).get("/api/node-runs/t-1/logs/").json()
    assert body["count"] == 3 and body["next"] is None
    assert [b["id"] for b in body["results"]] == [b.pk for b in batches]
    assert [b["attempt"] for b in body["results"]] == [1, 1, 2]
    first = body["results"][0]["lines"][0]
    assert first == {"time": "2023-11-14T22:13:20.250000Z", "level": "INFO", "logger": "app.Fetch",
                     "message": "batch 0 line 0"}


def test_after_returns_only_newer_batches(client_for: Callable[[User | None], APIClient], viewer: User,
                                          make_run: Callable[..., FlowRun]) -> None:
    batches = _logged(make_run())
    client = client_for(viewer)
    body = client.get(f"/api/node-runs/t-1/logs/?after={batches[1].pk}").json()
    assert [b["id"] for b in body["results"]] == [batches[2].pk]
    assert client.get(f"/api/node-runs/t-1/logs/?after={batches[2].pk}").json()["results"] == []
    assert client.get("/api/node-runs/t-1/logs/?after=x").status_code == 400
    assert client.get("/api/node-runs/t-1/logs/?after=-1").status_code == 400
    assert client.get("/api/node-runs/t-1/logs/?after=²").status_code == 400  # a digit, not a number
    assert client.get(f"/api/node-runs/t-1/logs/?after={2**63}").status_code == 400
    assert client.get(f"/api/node-runs/t-1/logs/?after={2**63 - 1}").json()["results"] == []


def test_pages_are_bounded(client_for: Callable[[User | None], APIClient], viewer: User,
                           make_run: Callable[..., FlowRun]) -> None:
    _logged(make_run(), batches=5)
    body = client_for(viewer).get("/api/node-runs/t-1/logs/?page_size=2").json()
    assert body["count"] == 5 and len(body["results"]) == 2 and "page=2" in body["next"]


def test_another_node_s_lines_are_not_mixed_in(client_for: Callable[[User | None], APIClient], viewer: User,
                                                make_run: Callable[..., FlowRun]) -> None:
    run = make_run()
    _logged(run, "t-1", batches=1)
    _logged(run, "t-2", batches=2)
    assert client_for(viewer).get("/api/node-runs/t-1/logs/").json()["count"] == 1


def test_a_node_without_lines_has_an_empty_log_and_an_unknown_node_is_404(
    client_for: Callable[[User | None], APIClient], viewer: User, make_run: Callable[..., FlowRun]
) -> None:
    NodeRun.objects.create(id="quiet", flow_run=make_run(), name="Fetch")
    client = client_for(viewer)
    assert client.get("/api/node-runs/quiet/logs/").json()["results"] == []
    assert client.get("/api/node-runs/nope/logs/").status_code == 404


def test_permission_and_own_runs_only(client_for: Callable[[User | None], APIClient],
                                      make_user: Callable[..., User], make_run: Callable[..., FlowRun]) -> None:
    owner = make_user("view_flowrun")
    other = make_user("view_flowrun")
    _logged(make_run(created_by=owner))
    assert client_for(None).get("/api/node-runs/t-1/logs/").status_code == 401
    assert client_for(make_user("view_configrevision")).get("/api/node-runs/t-1/logs/").status_code == 403
    with override_settings(SELINON_DJANGO={"API_RUNS_OWN_ONLY": True}):
        assert client_for(other).get("/api/node-runs/t-1/logs/").status_code == 404
        assert client_for(owner).get("/api/node-runs/t-1/logs/").json()["count"] == 3
