"""Hostile query strings, ids and form input in the admin: an error on the page (and nothing
listed), a 400 or a 404, never a 500. Staff users hold only the view permissions they need.
Run on PostgreSQL (DATABASE_URL) as well as SQLite: NUL is what PostgreSQL refuses.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from selinon_django.models import ConfigRevision, FlowRun
from tests.unit.admin.conftest import make_run

pytestmark = pytest.mark.django_db
ADMIN = "/admin/selinon_django/"
RUNS = f"{ADMIN}flowrun/"


def errors(response: Any) -> list[str]:
    return [m.message for m in get_messages(response.wsgi_request) if m.level_tag == "error"]


@pytest.fixture
def viewer(make_client: Any) -> Client:
    client: Client = make_client(
        "viewer", "view_flowrun", "view_noderun", "view_traceeventrecord", "view_configrevision",
        "view_flowdefinition", "view_triggersession", "view_firedtrigger", "view_triggertaskinstance",
    )
    client.raise_request_exception = False  # a 500 is an answer to assert on, not an exception
    return client


@pytest.fixture
def runs(revision: ConfigRevision) -> list[FlowRun]:
    return [make_run(revision), make_run(revision, status="failed")]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("revision=%C2%B2", "not a whole number"),
        ("revision=" + "9" * 5000, "not a whole number"),
        ("revision=18446744073709551616", "out of range"),
        ("revision=0", "out of range"),
        ("started_from=2024-02-30", "is not a date"),
        ("started_to=2024-01-01T25:00", "is not a date"),
        ("started_from=yesterday", "is not a date"),
        ("started_from=99999-01-01", "is not a date"),
    ],
)
def test_unusable_filter_values_are_reported_and_list_nothing(
    query: str, message: str, viewer: Client, runs: list[FlowRun]
) -> None:
    response = viewer.get(f"{RUNS}?{query}")
    assert response.status_code == 200
    assert any(message in text for text in errors(response)), errors(response)
    assert list(response.context["cl"].result_list) == []


def test_usable_filter_values_still_filter(viewer: Client, runs: list[FlowRun], revision: ConfigRevision) -> None:
    FlowRun.objects.filter(pk=runs[0].pk).update(started_at=timezone.now() - timedelta(days=30))
    by_revision = viewer.get(f"{RUNS}?revision={revision.number}")
    assert {r.pk for r in by_revision.context["cl"].result_list} == {r.pk for r in runs}
    recent = viewer.get(f"{RUNS}?started_from={timezone.localdate() - timedelta(days=1)}")
    assert [r.pk for r in recent.context["cl"].result_list] == [runs[1].pk]
    assert errors(by_revision) == errors(recent) == []


@pytest.mark.parametrize(
    "url",
    [
        f"{RUNS}?flow=%00",
        f"{RUNS}?status=%00",
        f"{RUNS}?revision=%00",
        f"{RUNS}?q=%00",
        f"{RUNS}?x%00=1",
        f"{ADMIN}noderun/?status=%00",
        f"{ADMIN}traceeventrecord/?event=%00",
        f"{ADMIN}flowdefinition/?q=%00",
        f"{ADMIN}configrevision/diff/?old=%00",
        f"{ADMIN}triggertaskinstance/?status=%00",
        f"{ADMIN}firedtrigger/?source=%00",
    ],
)
def test_nul_in_a_query_string_is_a_400(url: str, viewer: Client, runs: list[FlowRun]) -> None:
    assert viewer.get(url).status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        f"{RUNS}a%00b/change/",
        f"{RUNS}a%00b/live/",
        f"{RUNS}a%00b/history/",
        f"{ADMIN}noderun/a%00b/change/",
        f"{ADMIN}triggersession/a%00b/change/",
        f"{ADMIN}triggertaskinstance/a%00b/change/",
    ],
)
def test_nul_in_an_id_is_a_404(url: str, viewer: Client, runs: list[FlowRun]) -> None:
    assert viewer.get(url).status_code == 404


@pytest.mark.parametrize("query", ["old=%C2%B2", "old=" + "9" * 5000, "new=18446744073709551616", "old=-1"])
def test_diff_page_with_a_number_no_revision_can_have_is_a_404(
    query: str, viewer: Client, revision: ConfigRevision
) -> None:
    assert viewer.get(f"{ADMIN}configrevision/diff/?{query}").status_code == 404


def test_definitions_revision_filter_reports_unusable_values(viewer: Client, revision: ConfigRevision) -> None:
    response = viewer.get(f"{ADMIN}flowdefinition/?revision=%C2%B2")
    assert response.status_code == 200
    assert any("not a whole number" in text for text in errors(response))
    assert list(response.context["cl"].result_list) == []
    assert viewer.get(f"{ADMIN}flowdefinition/?revision={revision.number}").context["cl"].result_count > 0


@pytest.mark.parametrize(
    ("node_args", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "MAX_JSON_DEPTH"),
        ('{"a": "\\u0000"}', "NUL"),
        ('{"a": NaN}', "NaN"),
        ('["\\ud800"]', "surrogate"),
        ("1" * 5000, "too many digits"),
        ("{nope", "not valid JSON"),
    ],
    ids=["deep", "nul", "nan", "surrogate", "digits", "invalid"],
)
def test_start_form_refuses_hostile_node_args_with_a_form_error(
    node_args: str, message: str, make_client: Any, revision: ConfigRevision
) -> None:
    client = make_client("starter", "view_flowrun", "add_flowrun")
    response = client.post(f"{RUNS}start/", {"flow_name": "demo_main", "node_args": node_args, "confirmed": "True"})
    assert response.status_code == 200
    assert message in str(response.context["form"].errors["node_args"])
    assert not FlowRun.objects.exists()
