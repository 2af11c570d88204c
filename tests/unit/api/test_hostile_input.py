"""Hostile bodies, ids and query strings: each is a 400, 404 or 413 naming what is wrong, in
bounded time, and writes nothing. Run on PostgreSQL (DATABASE_URL) as well as SQLite: NUL and
NaN are what PostgreSQL refuses and SQLite stores.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from rest_framework.test import APIClient

from selinon_django.models import ConfigRevision, FlowRun
from selinon_django.models.triggers import TriggerSession
from tests.unit.api.conftest import counts

pytestmark = pytest.mark.django_db

RUNS = "/api/runs/"


def post_raw(client: APIClient, url: str, body: str | bytes) -> Any:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return client.generic("POST", url, data, content_type="application/json")


def deep(levels: int, leaf: str = "1") -> str:
    return "[" * levels + leaf + "]" * levels


def node_args_body(node_args_text: str, flow: str = "other") -> str:
    return f'{{"flow_name": "{flow}", "node_args": {node_args_text}}}'


# --- nesting -----------------------------------------------------------------------------------


def test_100000_deep_node_args_are_a_400_naming_the_limit(api: APIClient, revision: ConfigRevision) -> None:
    before = counts()
    started = time.monotonic()
    response = post_raw(api, RUNS, node_args_body(deep(100_000)))
    assert time.monotonic() - started < 2
    assert response.status_code == 400
    assert "MAX_JSON_DEPTH" in response.json()["detail"] and "64" in response.json()["detail"]
    assert counts() == before


def test_the_depth_limit_is_the_setting(api: APIClient, revision: ConfigRevision) -> None:
    # the body's own object is one level: node_args at depth 63 make 64
    assert post_raw(api, RUNS, node_args_body(deep(63))).status_code == 201
    assert post_raw(api, RUNS, node_args_body(deep(64))).status_code == 400
    with override_settings(SELINON_DJANGO={"MAX_JSON_DEPTH": 3}):
        assert post_raw(api, RUNS, node_args_body('{"a": [1]}')).status_code == 201
        refused = post_raw(api, RUNS, node_args_body('{"a": [[1]]}'))
    assert refused.status_code == 400 and "MAX_JSON_DEPTH = 3" in refused.json()["detail"]


def test_brackets_inside_strings_are_not_nesting(api: APIClient, revision: ConfigRevision) -> None:
    node_args = {"text": "[" * 10_000, "quote": 'a "quoted" \\ [{'}
    response = api.post(RUNS, {"flow_name": "other", "node_args": node_args}, format="json")
    assert response.status_code == 201
    assert FlowRun.objects.get(pk=response.json()["id"]).node_args == node_args


@pytest.mark.parametrize("url", [RUNS, "/api/revisions/", "/api/trigger-sessions/s1/fire/"])
def test_deep_json_is_refused_on_every_endpoint_that_takes_a_body(
    url: str, revision: ConfigRevision, make_user: Callable[..., User], client_for: Callable[[User | None], APIClient]
) -> None:
    client = client_for(make_user("add_flowrun", "add_configrevision", "add_firedtrigger"))
    with override_settings(SELINON_DJANGO={"IMPORT_PREFIXES": ["demo_project."]}):
        response = post_raw(client, url, f'{{"kwargs": {deep(100_000, "{}")}}}')
    assert response.status_code == 400
    assert "MAX_JSON_DEPTH" in response.json()["detail"]
    assert not TriggerSession.objects.exists()


# --- what PostgreSQL's jsonb cannot hold -------------------------------------------------------


@pytest.mark.parametrize(
    ("node_args", "message"),
    [
        ('{"a": "x\\u0000y"}', "NUL"),
        ('{"x\\u0000": 1}', "NUL"),
        ('["\\ud800"]', "surrogate"),
        ('"\\udc00 alone"', "surrogate"),
        ("NaN", "NaN"),
        ('{"a": Infinity}', "Infinity"),
        ("[-Infinity]", "Infinity"),
        ("1e999", "too large"),
        ("1" * 5000, "too many digits"),
    ],
    ids=["nul-value", "nul-key", "high-surrogate", "low-surrogate", "nan", "infinity", "minus-infinity",
         "float-overflow", "5000-digits"],
)
def test_values_the_database_cannot_store_are_a_400(
    api: APIClient, revision: ConfigRevision, node_args: str, message: str
) -> None:
    before = counts()
    response = post_raw(api, RUNS, node_args_body(node_args))
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert counts() == before


def test_an_escaped_backslash_before_u0000_is_plain_text(api: APIClient, revision: ConfigRevision) -> None:
    response = post_raw(api, RUNS, node_args_body('{"a": "\\\\u0000"}'))
    assert response.status_code == 201
    assert FlowRun.objects.get(pk=response.json()["id"]).node_args == {"a": "\\u0000"}


def test_surrogate_pairs_are_fine(api: APIClient, revision: ConfigRevision) -> None:
    response = post_raw(api, RUNS, node_args_body('"\\ud83d\\ude00"'))
    assert response.status_code == 201
    assert FlowRun.objects.get(pk=response.json()["id"]).node_args == "\U0001f600"


def test_a_body_that_is_not_utf8_is_a_400(api: APIClient, revision: ConfigRevision) -> None:
    response = post_raw(api, RUNS, b'{"flow_name": "other", "node_args": "\xff\xfe"}')
    assert response.status_code == 400
    assert "UTF-8" in response.json()["detail"]


# --- size --------------------------------------------------------------------------------------


def test_a_body_over_django_upload_limit_is_a_413(api: APIClient, revision: ConfigRevision) -> None:
    before = counts()
    ten_megabytes = json.dumps({"flow_name": "other", "node_args": "x" * 10_000_000})
    response = post_raw(api, RUNS, ten_megabytes)
    assert response.status_code == 413
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in response.json()["detail"]
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100):
        assert post_raw(api, RUNS, node_args_body(json.dumps("x" * 100))).status_code == 413
        assert post_raw(api, RUNS, node_args_body("1")).status_code == 201
    assert counts()[0] == before[0] + 1


def test_node_args_over_the_byte_limit_are_a_400(api: APIClient, revision: ConfigRevision) -> None:
    with override_settings(SELINON_DJANGO={"MAX_NODE_ARGS_BYTES": 1000}):
        response = post_raw(api, RUNS, node_args_body(json.dumps([0] * 1000)))
    assert response.status_code == 400
    assert "limit is 1000" in str(response.json()["node_args"])


def test_a_list_of_half_a_million_elements_within_the_limits_is_taken_in_bounded_time(
    api: APIClient, revision: ConfigRevision
) -> None:
    node_args = "[" + ",".join(["0"] * 499_000) + "]"
    started = time.monotonic()
    response = post_raw(api, RUNS, node_args_body(node_args))
    assert response.status_code == 201
    assert time.monotonic() - started < 10
    assert len(FlowRun.objects.get(pk=response.json()["id"]).node_args) == 499_000


# --- ids and query strings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/runs/a%00b/",
        "/api/runs/a%00b/trace/",
        "/api/node-runs/a%00/",
        "/api/flows/ma%00in/",
        "/api/trigger-sessions/k%00/",
        "/api/trigger-task-instances/i%00/",
        "/api/revisions/" + "9" * 30 + "/",
        "/api/revisions/" + "9" * 5000 + "/",
        "/api/migrations/" + "9" * 5000 + "/",
        "/api/migrations/18446744073709551616/",
    ],
)
def test_hostile_ids_are_a_404(url: str, make_user: Callable[..., User],
                               client_for: Callable[[User | None], APIClient], revision: ConfigRevision) -> None:
    reader = client_for(make_user("view_flowrun", "view_configrevision", "view_flowmigrationrecord",
                                  "view_triggersession"))
    assert reader.get(url).status_code == 404


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/runs/?flow=%00", "flow"),
        ("/api/runs/?ordering=%00", "ordering"),
        ("/api/runs/?page_size=%00", "page_size"),
        ("/api/runs/?x%00=1", "x\\x00"),
        ("/api/runs/?revision=%C2%B2", "revision"),
        ("/api/runs/?revision=18446744073709551616", "revision"),
        ("/api/runs/?created_after=2024-02-30", "created_after"),
        ("/api/revisions/?page=%00", "page"),
        ("/api/flows/?page=%00", "page"),
        ("/api/migrations/?flow=%00", "flow"),
        ("/api/trigger-sessions/?page=%00", "page"),
        ("/api/trigger-task-instances/?session=%00", "session"),
        ("/api/trigger-task-instances/?status=%00", "status"),
    ],
)
def test_hostile_query_strings_are_a_400_naming_the_parameter(
    url: str, field: str, make_user: Callable[..., User], client_for: Callable[[User | None], APIClient],
    revision: ConfigRevision,
) -> None:
    reader = client_for(make_user("view_flowrun", "view_configrevision", "view_flowmigrationrecord",
                                  "view_triggersession"))
    response = reader.get(url)
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("base", ["9" * 5000, "²", "-1", "18446744073709551616", "%00"])
def test_hostile_diff_bases_are_a_400(base: str, api: APIClient, revision: ConfigRevision) -> None:
    response = api.get(f"/api/revisions/{revision.number}/diff/?base={base}")
    assert response.status_code == 400
    assert "base" in response.json()


def test_nul_in_a_token_is_a_401(revision: ConfigRevision) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token abc\x00def")
    assert client.get(RUNS).status_code == 401
