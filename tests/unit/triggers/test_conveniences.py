"""@selinon_task, per-task rate_limit and priority, the selinon_fire command, the REST API."""
from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from selinon_django.runtime.rate_limits import rate_limit_interval, rate_limited_countdown
from selinon_django.task import SelinonTask
from selinon_django.triggers.decorators import selinon_task


@selinon_task
def double(node_args: Any) -> Any:
    """Doubles x."""
    return {"x": node_args["x"] * 2}


@selinon_task(bind=True)
def named(task: SelinonTask, node_args: Any) -> Any:
    return {"task": task.task_name, "args": node_args}


def test_decorated_function_is_a_selinon_task_class_named_like_it() -> None:
    assert isinstance(double, type) and issubclass(double, SelinonTask)
    assert (double.__name__, double.__module__, double.__doc__) == ("double", __name__, "Doubles x.")
    task = double("flow", "double", None, "id-1", "d-1")
    assert task.run({"x": 2}) == {"x": 4}
    assert double({"x": 5}) == {"x": 10}  # type: ignore[call-arg,arg-type]  # called directly, like Celery
    assert named("flow", "Named", None, "id-2", "d-2").run([1]) == {"task": "Named", "args": [1]}


def test_decorated_task_runs_in_a_flow_named_in_yaml(tmp_path: Any) -> None:
    from selinon_django.config import load_config
    from selinon_django.runtime.execution import Succeeded, run_attempt
    from selinon_django.storages.pool import StoragePool

    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(
        "tasks:\n  - {name: Double, import: tests.unit.triggers.test_conveniences, classname: double}\n"
        "flows: [f]\nflow-definitions:\n  - name: f\n    edges:\n      - {from: [], to: Double}\n"
    )
    config = load_config([nodes], [])
    outcome = run_attempt(config, StoragePool.for_config(config), flow_name="f", task_name="Double", task_id="t1",
                          dispatcher_id="d1", parent={}, node_args={"x": 21}, retried_count=0)
    assert isinstance(outcome, Succeeded) and outcome.json_result == {"x": 42}


@pytest.mark.parametrize(
    ("text", "interval"),
    [("10/m", 6.0), ("2/s", 0.5), ("4/h", 900.0), (5, 0.2), ("0.5", 2.0), ("0/m", None), (None, None), ("x", None)],
)
def test_rate_limit_interval(text: Any, interval: float | None) -> None:
    assert rate_limit_interval(text) == interval


@pytest.mark.django_db
def test_rate_limited_starts_are_spaced_across_callers() -> None:
    countdowns = [rate_limited_countdown("Fetch", "30/m", None) for _ in range(3)]
    assert countdowns[0] is None
    assert countdowns[1] == pytest.approx(2.0, abs=0.2)
    assert countdowns[2] == pytest.approx(4.0, abs=0.2)
    assert rate_limited_countdown("Other", None, 3.0) == 3.0


@pytest.mark.django_db
def test_dispatcher_publishes_rate_limit_and_priority(tmp_path: Any, enqueued: list[Any]) -> None:
    from selinon_django.config import load_config
    from selinon_django.revisions import load_revision
    from selinon_django.runtime.api import run_flow
    from selinon_django.runtime.dispatcher import handle_message
    from selinon_django.runtime.messages import NODE_TASK

    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(
        "tasks:\n  - {name: A, import: tests.integration.tasks, classname: Noop, rate_limit: 6/m, priority: 7}\n"
        "  - {name: B, import: tests.integration.tasks, classname: Noop, rate_limit: 6/m, priority: 7}\n"
        "flows: [f]\nflow-definitions:\n  - name: f\n    edges:\n      - {from: [], to: [A, B]}\n"
    )
    load_revision(load_config([nodes], []))
    run_id = run_flow("f", {})
    handle_message(run_id)
    options = {m.kwargs["task_name"]: m.options for m in enqueued if m.task_name == NODE_TASK}
    assert set(options) == {"A", "B"}
    assert options["A"]["priority"] == options["B"]["priority"] == 7
    assert "countdown" not in options["A"] and "countdown" not in options["B"]  # different tasks: own slots
    second = run_flow("f", {})
    handle_message(second)
    later = [m.options for m in enqueued if m.task_name == NODE_TASK and m.kwargs["dispatcher_id"] == second]
    assert all(o["countdown"] == pytest.approx(10.0, abs=0.5) for o in later) and len(later) == 2


@pytest.mark.django_db
def test_selinon_fire_command() -> None:
    from selinon_django.models.triggers import FiredTrigger
    from selinon_django.triggers.manager import update_configuration

    update_configuration("cmd", {"t": {"after": ["go"], "run": "tests.integration.trigger_tasks.CountRuns"}})
    out = StringIO()
    call_command("selinon_fire", "cmd", "go", "--kwargs", '{"n": 1}', stdout=out)
    assert out.getvalue().strip() == "fired go in session cmd; scheduled: t"
    out = StringIO()
    call_command("selinon_fire", "cmd", "go", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"session": "cmd", "trigger": "go", "scheduled": []}
    assert list(FiredTrigger.objects.values_list("source", "kwargs")) == [("command", {"n": 1}), ("command", {})]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["s", "go", "--kwargs", "{bad"], "--kwargs: not valid JSON: Expecting property name"),
        (["s", "go", "--kwargs", "[" * 100_000], "--kwargs: JSON nested more than 64 levels"),
        (["s", "go", "--kwargs", '{"a": "\\u0000"}'], "--kwargs: .u0000 .NUL."),
        (["s", "go", "--kwargs", '{"a": NaN}'], "--kwargs: NaN is not a JSON number"),
        (["s", "go", "--kwargs", "[1]"], "--kwargs must be a JSON object, not list"),
        (["s", " ", "--kwargs", "{}"], "a trigger name must be a non-empty string"),
    ],
)
def test_selinon_fire_refuses_bad_input_with_status_2(argv: list[str], message: str) -> None:
    from selinon_django.models.triggers import FiredTrigger

    with pytest.raises(CommandError, match=message) as caught:
        call_command("selinon_fire", *argv)
    assert caught.value.returncode == 2
    assert not FiredTrigger.objects.exists()


@pytest.mark.django_db
def test_rest_api_fires_and_shows_sessions(django_user_model: Any) -> None:
    from django.contrib.auth.models import Permission
    from django.test import override_settings
    from django.urls import include, path
    from rest_framework.test import APIClient

    from selinon_django.triggers.manager import update_configuration

    urls = type("urls", (), {"urlpatterns": [path("api/", include("selinon_django.triggers.api"))]})
    update_configuration("order 1", {"t": {"after": ["paid"], "run": "tests.integration.trigger_tasks.CountRuns"}})
    client = APIClient()
    with override_settings(ROOT_URLCONF=urls):
        assert client.get("/api/trigger-sessions/").status_code in (401, 403)
        nobody = django_user_model.objects.create_user("nobody", password="x", is_staff=True)
        client.force_authenticate(nobody)
        assert client.get("/api/trigger-sessions/").status_code == 403  # staff alone is not a permission
        reader = django_user_model.objects.create_user("reader", password="x")
        reader.user_permissions.add(Permission.objects.get(codename="view_triggersession"))
        client.force_authenticate(reader)
        assert client.get("/api/trigger-sessions/").status_code == 200
        assert client.post("/api/trigger-sessions/order 1/fire/", {"trigger": "paid"}, format="json").status_code == 403
        staff = django_user_model.objects.create_user("firer", password="x")
        staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_triggersession", "add_firedtrigger"]))
        client.force_authenticate(staff)
        bad = client.post("/api/trigger-sessions/order 1/fire/", {"trigger": "paid", "kwargs": [1]}, format="json")
        assert bad.status_code == 400 and "kwargs" in bad.json()
        answer = client.post("/api/trigger-sessions/order 1/fire/", {"trigger": "paid", "kwargs": {"eur": 5}},
                             format="json")
        assert answer.status_code == 201
        assert answer.json() == {"session": "order 1", "trigger": "paid", "scheduled": ["t"]}
        detail = client.get("/api/trigger-sessions/order 1/").json()
        fired = [(f["name"], f["kwargs"], f["source"]) for f in detail["fired_triggers"]]
        assert fired == [("paid", {"eur": 5}, "api")]
        assert [(i["name"], i["status"], i["attempts"]) for i in detail["task_instances"]] == [("t", "scheduled", 0)]
        listing = client.get("/api/trigger-task-instances/?session=order 1&status=scheduled").json()
        rows = listing["results"] if isinstance(listing, dict) else listing
        assert [r["name"] for r in rows] == ["t"]


@pytest.mark.django_db
def test_admin_pages_render(admin_client: Any) -> None:
    from django.contrib import admin
    from django.test import override_settings
    from django.urls import path

    import selinon_django.triggers.admin  # noqa: F401
    from selinon_django.models.triggers import TriggerSession

    assert admin.site.is_registered(TriggerSession)
    # the project's URLconf may have been built before this module registered its pages
    urls = type("urls", (), {"urlpatterns": [path("admin/", admin.site.urls)]})
    with override_settings(ROOT_URLCONF=urls):
        _admin_pages(admin_client)


def _admin_pages(admin_client: Any) -> None:
    from selinon_django.models.triggers import TriggerSession, TriggerTaskInstance
    from selinon_django.triggers.manager import fire, update_configuration

    update_configuration("adm", {"t": {"after": ["go"], "run": "tests.integration.trigger_tasks.CountRuns"}})
    fire("adm", "go", {"k": 1})
    session = TriggerSession.objects.get(key="adm")
    instance = TriggerTaskInstance.objects.get()
    for url in (f"/admin/selinon_django/triggersession/{session.pk}/change/",
                f"/admin/selinon_django/triggertaskinstance/{instance.pk}/change/",
                "/admin/selinon_django/firedtrigger/"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    assert b"tests.integration.trigger_tasks.CountRuns" in admin_client.get(
        f"/admin/selinon_django/triggertaskinstance/{instance.pk}/change/").content
