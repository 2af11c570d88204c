"""The trigger endpoints are no side door: firing a trigger that starts flows needs the permission
to start runs, and every fire counts against the run-start throttle.

The revision (tests/integration/trigger_flows.yaml) has ``t_flow``, which runs ``echo_flow`` after
``order_placed`` and ``payment_received``, and ``t_collect``, a trigger task class run after
``first`` and ``second``.
"""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from selinon_django.models import FlowRun
from selinon_django.models.triggers import FiredTrigger, TriggerTaskInstance

pytestmark = pytest.mark.django_db


def client_with(*codenames: str) -> APIClient:
    user = User.objects.create_user(f"user-{uuid.uuid4()}")
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="selinon_django",
                                                         codename__in=codenames))
    client = APIClient()
    client.force_authenticate(User.objects.get(pk=user.pk))
    return client


def fire(client: APIClient, trigger: str, session: str = "order 7", **kwargs: Any) -> Any:
    return client.post(f"/api/trigger-sessions/{session}/fire/", {"trigger": trigger, "kwargs": kwargs},
                       format="json")


@pytest.fixture(autouse=True)
def _fresh_throttle_cache() -> None:
    cache.clear()


def test_firing_a_trigger_that_starts_a_flow_needs_the_run_start_permission(revision: Any) -> None:
    firer = client_with("add_firedtrigger")
    refused = fire(firer, "order_placed", order=7)
    assert refused.status_code == 403
    assert "selinon_django.add_flowrun" in refused.json()["detail"] and "t_flow" in refused.json()["detail"]
    assert not FiredTrigger.objects.exists()
    # a trigger only a task class waits for needs no more than the fire permission
    assert fire(firer, "first").status_code == 201

    starter = client_with("add_firedtrigger", "add_flowrun")
    assert fire(starter, "order_placed", order=7).status_code == 201
    answer = fire(starter, "payment_received", paid=True)
    assert answer.status_code == 201 and answer.json()["scheduled"] == ["t_flow"]
    instance = TriggerTaskInstance.objects.get(name="t_flow")
    assert FlowRun.objects.get(pk=instance.flow_run_id).node_args == {"order": 7, "paid": True}


def test_a_session_configuration_that_runs_a_flow_counts_too(revision: Any) -> None:
    from selinon_django.triggers.manager import update_configuration

    update_configuration("order 7", {"mine": {"after": ["first"], "run": "echo_flow"}})
    assert fire(client_with("add_firedtrigger"), "first").status_code == 403
    assert fire(client_with("add_firedtrigger"), "first", session="another").status_code == 201


def test_reading_needs_the_view_permission_and_firing_the_fire_permission(revision: Any) -> None:
    assert APIClient().get("/api/trigger-sessions/").status_code in (401, 403)
    assert client_with().get("/api/trigger-sessions/").status_code == 403
    reader = client_with("view_triggersession")
    assert reader.get("/api/trigger-sessions/").status_code == 200
    assert reader.get("/api/trigger-task-instances/").status_code == 200
    assert fire(reader, "first").status_code == 403
    assert client_with("add_firedtrigger").get("/api/trigger-sessions/").status_code == 403


def test_fires_and_run_starts_share_the_run_start_throttle(revision: Any) -> None:
    client = client_with("add_firedtrigger", "add_flowrun", "view_triggersession")
    with override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": {"selinon_runs": "2/minute"}}):
        started = client.post("/api/runs/", {"flow_name": "echo_flow"}, format="json")
        fired = fire(client, "first")
        throttled = fire(client, "second")
        also_throttled = client.post("/api/runs/", {"flow_name": "echo_flow"}, format="json")
        listing = client.get("/api/trigger-sessions/")
    assert [started.status_code, fired.status_code, throttled.status_code, also_throttled.status_code] == [
        201, 201, 429, 429]
    assert listing.status_code == 200
    assert list(FiredTrigger.objects.values_list("name", flat=True)) == ["first"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"trigger": "first", "kwargs": {"a": "x\u0000y"}}, 400),
        ({"trigger": "fi\u0000rst"}, 400),
        ({"trigger": "x" * 256}, 400),
        ({"trigger": "first", "kwargs": [1]}, 400),
        ({"trigger": "first", "kwargs": {"n": 2**64}}, 201),
    ],
    ids=["nul-kwargs", "nul-name", "long-name", "kwargs-not-object", "big-int"],
)
def test_hostile_fire_bodies(revision: Any, body: dict[str, Any], status: int) -> None:
    response = client_with("add_firedtrigger").post("/api/trigger-sessions/s/fire/", body, format="json")
    assert response.status_code == status
    assert FiredTrigger.objects.exists() == (status == 201)


def test_hostile_session_keys_are_refused(revision: Any) -> None:
    firer = client_with("add_firedtrigger")
    assert fire(firer, "first", session="k" * 256).status_code == 400
    assert fire(firer, "first", session="tab%09here").status_code == 400
    assert fire(firer, "first", session="nul%00").status_code == 404
    assert not FiredTrigger.objects.exists()
