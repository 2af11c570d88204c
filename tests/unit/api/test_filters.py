"""The lists' query-string filters (django-filter FilterSets): the forms each parameter takes,
what an empty or bad value does, the browsable API's filter form and check W010."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from rest_framework.test import APIClient

from selinon_django.checks import check_environment
from selinon_django.models import FlowRun, NodeRun, NodeRunLog
from selinon_django.models.triggers import TriggerSession, TriggerTaskInstance

pytestmark = pytest.mark.django_db

RUNS = "/api/runs/"


def _ids(client: APIClient, url: str, params: Any = None) -> set[str]:
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_several_statuses_comma_separated_repeated_or_both(api: APIClient, make_run: Callable[..., FlowRun]) -> None:
    failed, revoked, _ = make_run(status="failed"), make_run(status="revoked"), make_run(status="running")
    succeeded = make_run(status="succeeded")
    assert _ids(api, f"{RUNS}?status=failed&status=revoked") == {failed.pk, revoked.pk}
    assert _ids(api, f"{RUNS}?status=%20failed%20,revoked,") == {failed.pk, revoked.pk}
    assert _ids(api, f"{RUNS}?status=failed,revoked&status=succeeded") == {failed.pk, revoked.pk, succeeded.pk}


def test_an_empty_value_filters_nothing(api: APIClient, make_run: Callable[..., FlowRun]) -> None:
    """What the browsable API's filter form sends for the fields left blank."""
    everything = {make_run("main").pk, make_run("other", status="failed").pk}
    query = "flow=&status=&revision=&parent=&top_level=&created_after=&started_before="
    assert _ids(api, f"{RUNS}?{query}") == everything


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("revision=1.5", "revision"),
        ("revision=0", "revision"),
        ("revision=2147483648", "revision"),
        ("revision=" + "9" * 5000, "revision"),
        ("top_level=maybe", "top_level"),
        ("status=failed,exploded", "status"),
        ("flow=" + "x" * 256, "flow"),
        ("parent=" + "x" * 256, "parent"),
    ],
)
def test_a_bad_value_is_a_400_naming_its_parameter(query: str, field: str, api: APIClient,
                                                     make_run: Callable[..., FlowRun]) -> None:
    make_run()
    response = api.get(f"{RUNS}?{query}")
    assert response.status_code == 400
    assert set(response.json()) == {field}


@pytest.mark.parametrize(("value", "top_level"), [("TRUE", True), ("1", True), ("no", False), ("0", False)])
def test_top_level_takes_the_usual_spellings_of_a_boolean(value: str, top_level: bool, api: APIClient,
                                                            make_run: Callable[..., FlowRun]) -> None:
    root = make_run()
    child = make_run(parent_run=root, root_run=root)
    assert _ids(api, RUNS, {"top_level": value}) == ({root.pk} if top_level else {child.pk})


def test_trigger_task_instances_by_session_status_and_name(make_user: Callable[..., User],
                                                             client_for: Callable[[User | None], APIClient]) -> None:
    reader = client_for(make_user("view_triggersession"))
    one, two = TriggerSession.objects.create(key="one"), TriggerSession.objects.create(key="two")

    def instance(pk: str, session: TriggerSession, name: str, status: str) -> str:
        TriggerTaskInstance.objects.create(id=pk, session=session, name=name, target="t", kind="task", status=status)
        return pk

    a = instance("a", one, "fetch", "scheduled")
    b = instance("b", one, "parse", "failed")
    c = instance("c", two, "fetch", "succeeded")
    url = "/api/trigger-task-instances/"
    assert _ids(reader, url, {"session": "one"}) == {a, b}
    assert _ids(reader, url, {"name": "fetch"}) == {a, c}
    assert _ids(reader, url, {"status": "failed,succeeded"}) == {b, c}
    assert _ids(reader, url, {"session": "one", "status": "scheduled"}) == {a}
    assert _ids(reader, f"{url}?status=") == {a, b, c}
    refused = reader.get(url, {"status": "exploded"})  # was an empty list: a typo looked like "none"
    assert refused.status_code == 400 and set(refused.json()) == {"status"}


@pytest.mark.parametrize("after", ["1.5", "-1", "9223372036854775808", "9" * 5000])
def test_a_log_cursor_out_of_the_id_range_is_a_400(after: str, client_for: Callable[[User | None], APIClient],
                                                    viewer: User, make_run: Callable[..., FlowRun]) -> None:
    run = make_run()
    NodeRun.objects.create(id="t-1", flow_run=run, name="Fetch", status="started", attempts=1)
    NodeRunLog.objects.create(flow_run=run, node_run_id="t-1", attempt=1, size=1, lines=[])
    response = client_for(viewer).get(f"/api/node-runs/t-1/logs/?after={after}")
    assert response.status_code == 400
    assert set(response.json()) == {"after"}


def test_the_browsable_run_list_offers_the_filter_form(client_for: Callable[[User | None], APIClient],
                                                       viewer: User, make_run: Callable[..., FlowRun]) -> None:
    make_run()
    page = client_for(viewer).get(RUNS, {"status": "failed"}, HTTP_ACCEPT="text/html").content.decode()
    for name in ("flow", "status", "revision", "parent", "top_level", "created_after", "started_before"):
        assert f'name="{name}"' in page, name
    assert '<option value="failed" selected>' in page


def test_check_w010_names_the_missing_django_filters_app(settings: Any) -> None:
    assert "selinon_django.W010" not in {message.id for message in check_environment()}
    apps = [app for app in settings.INSTALLED_APPS if app != "django_filters"]
    with override_settings(INSTALLED_APPS=apps):
        [warning] = [message for message in check_environment() if message.id == "selinon_django.W010"]
    assert "django_filters" in warning.msg
