"""Every list of the API is paginated: the test walks the API's URLconf, so a new endpoint that
forgets pagination (or a detail action that answers a bare JSON array) fails here.

Each list is read with ``?page_size=1`` over at least two rows: one row comes back, with a link
to the next page. Detail actions are read too and must not answer a top-level array.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import URLPattern, reverse
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from rest_framework.test import APIClient

from selinon_django.api.renderers import GraphRenderer
from selinon_django.api.urls import router
from selinon_django.models import ConfigRevision, FlowMigrationRecord, FlowRun, NodeRun, NodeRunLog, TraceEventRecord
from selinon_django.models.triggers import TriggerSession, TriggerTaskInstance
from selinon_django.scheduling import SCHEDULE_TASK
from tests.unit.api.test_migrations import migrations  # noqa: F401  # the fixture: two stored migrations

pytestmark = pytest.mark.django_db

#: every permission a reader of the whole API holds (not a superuser)
READ_EVERYTHING = ("view_flowrun", "view_configrevision", "view_flowmigrationrecord", "view_triggersession")


def _api_patterns() -> Iterator[tuple[URLPattern, dict[str, str]]]:
    """(pattern, {HTTP method: viewset action}) of every route of the API router (no format suffixes)."""
    for pattern in router.urls:
        if not isinstance(pattern, URLPattern) or "format" in pattern.pattern.regex.groupindex:
            continue
        actions = getattr(pattern.callback, "actions", None)
        if actions:
            yield pattern, actions


def _get_routes(detail: bool) -> list[tuple[URLPattern, str]]:
    routes = []
    for pattern, actions in _api_patterns():
        action = actions.get("get")
        if action is None:
            continue
        has_kwargs = bool(pattern.pattern.regex.groupindex)
        if has_kwargs == detail:
            routes.append((pattern, action))
    return routes


@pytest.fixture
def everything(revision: ConfigRevision, migrations: list[FlowMigrationRecord],  # noqa: F811
               make_run: Callable[..., FlowRun]) -> dict[str, dict[str, str]]:
    """Two rows behind every list; the URL kwargs of the detail routes, by route name."""
    runs = [make_run(), make_run()]
    for run in runs:
        TraceEventRecord.objects.create(flow_run=run, event="FLOW_START", details={})
        TraceEventRecord.objects.create(flow_run=run, event="FLOW_END", details={})
    node = NodeRun.objects.create(id=str(uuid.uuid4()), flow_run=runs[0], name="Fetch", status="succeeded")
    for _ in range(2):
        NodeRunLog.objects.create(flow_run=runs[0], node_run_id=node.pk, lines=[], size=0)
    sessions = [TriggerSession.objects.create(key=f"session {i}") for i in range(2)]
    for i, session in enumerate(sessions):
        TriggerTaskInstance.objects.create(
            id=str(uuid.uuid4()), session=session, name=f"t{i}", target="x.Y", kind="task",
            created_at=timezone.now(), updated_at=timezone.now(),
        )
    instance = TriggerTaskInstance.objects.first()
    assert instance is not None
    every_hour = IntervalSchedule.objects.create(every=1, period="hours")
    for name in ("first", "second"):
        PeriodicTask.objects.create(name=name, task=SCHEDULE_TASK, interval=every_hour,
                                    kwargs='{"flow_name": "main"}')
    number = str(ConfigRevision.objects.order_by("-number").values_list("number", flat=True)[0])
    return {
        "selinon-flow-detail": {"name": "main"},
        "selinon-flow-graph": {"name": "main"},
        "selinon-revision-detail": {"number": number},
        "selinon-revision-diff": {"number": number},
        "selinon-run-detail": {"pk": runs[0].pk},
        "selinon-run-trace": {"pk": runs[0].pk},
        "selinon-run-graph": {"pk": runs[0].pk},
        "selinon-node-run-detail": {"pk": node.pk},
        "selinon-migration-detail": {"version": str(migrations[0].version)},
        "selinon-trigger-session-detail": {"key": sessions[0].key},
        "selinon-trigger-task-instance-detail": {"pk": instance.pk},
        "selinon-schedule-detail": {"name": "first"},
        "selinon-node-run-logs-list": {"node_run_id": node.pk},
    }


@pytest.fixture
def reader(make_user: Callable[..., User], client_for: Callable[[User | None], APIClient]) -> APIClient:
    user = make_user(*READ_EVERYTHING)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="django_celery_beat",
                                                     codename="view_periodictask"))
    return client_for(User.objects.get(pk=user.pk))


def test_the_walk_finds_the_lists_it_should() -> None:
    names = {pattern.name for pattern, _ in _get_routes(detail=False)}
    assert {"selinon-flow-list", "selinon-revision-list", "selinon-run-list", "selinon-migration-list",
            "selinon-trigger-session-list", "selinon-trigger-task-instance-list"} <= names
    assert "selinon-run-trace" in {pattern.name for pattern, _ in _get_routes(detail=True)}


@pytest.mark.usefixtures("everything")
@pytest.mark.parametrize("route", [p.name for p, _ in _get_routes(detail=False)])
def test_every_list_is_paginated(route: str, reader: APIClient) -> None:
    response = reader.get(reverse(route), {"page_size": 1})
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert isinstance(body, dict) and set(body) >= {"count", "next", "previous", "results"}, (
        f"{route} is not paginated: derive its viewset from SelinonAPIView (or give it a paginator)"
    )
    assert body["count"] >= 2, f"{route}: the fixture `everything` should put two rows behind it"
    assert len(body["results"]) == 1 and body["next"] is not None


@pytest.mark.parametrize("route", [p.name for p, _ in _get_routes(detail=True)])
def test_no_detail_route_answers_a_bare_list(route: str, reader: APIClient, everything: dict[str, Any]) -> None:
    assert route in everything, f"add the URL kwargs of {route} to the fixture `everything`"
    response = reader.get(reverse(route, kwargs=everything[route]), {"page_size": 1})
    if isinstance(getattr(response, "accepted_renderer", None), GraphRenderer) and response.status_code == 200:
        return  # a picture
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert not isinstance(body, list), f"{route} answers a bare JSON array: paginate it"
    if set(body) >= {"count", "results"}:
        assert len(body["results"]) == 1 and body["next"] is not None


@pytest.mark.usefixtures("everything")
@pytest.mark.parametrize(
    ("query", "status", "size"),
    [
        ({"page_size": 1_000_000}, 200, 2),  # capped (there are two runs)
        ({"page_size": "9" * 5000}, 200, 2),  # not a page size: the default
        ({"page_size": -1}, 200, 2),
        ({"page_size": 0}, 200, 2),
        ({"page": 0}, 404, None),
        ({"page": -1}, 404, None),
        ({"page": 2**64}, 404, None),
        ({"page": "9" * 5000}, 404, None),
        ({"page": "²"}, 404, None),
    ],
)
def test_hostile_page_parameters(query: dict[str, Any], status: int, size: int | None, reader: APIClient) -> None:
    response = reader.get("/api/runs/", query)
    assert response.status_code == status
    if size is not None:
        assert len(response.json()["results"]) == size


def test_page_size_is_capped_at_the_maximum(reader: APIClient, revision: ConfigRevision) -> None:
    FlowRun.objects.bulk_create(
        FlowRun(id=f"bulk-{i}", flow_name="main", revision=revision, status="succeeded", created_at=timezone.now())
        for i in range(510)
    )
    body = reader.get("/api/runs/", {"page_size": 100_000}).json()
    assert body["count"] == 510
    assert len(body["results"]) == 500
