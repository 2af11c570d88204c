"""Flows of the current revision: list, detail with nodes/edges/conditions, graph in three formats."""
from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from selinon_django.config import load_config_from_sources
from selinon_django.models import ConfigRevision
from selinon_django.revisions import load_revision
from tests.unit.api.conftest import FLOWS_YAML, NODES_YAML, sources

pytestmark = pytest.mark.django_db


def test_list_names_the_flows_of_the_current_revision(api: APIClient, revision: ConfigRevision) -> None:
    page = api.get("/api/flows/").json()
    assert page["count"] == 3
    body = page["results"]
    assert [f["name"] for f in body] == ["main", "other", "sub"]
    assert {f["revision"] for f in body} == {revision.number}
    assert body[0]["url"].endswith("/api/flows/main/")
    without_other = FLOWS_YAML.split("  - name: other")[0]
    newer = load_revision(load_config_from_sources(
        sources(NODES_YAML.replace("  - other\n", ""), without_other)))[0]
    body = api.get("/api/flows/").json()["results"]
    assert [(f["name"], f["revision"]) for f in body] == [("main", newer.number), ("sub", newer.number)]


def test_list_before_any_configuration_is_empty(api: APIClient) -> None:
    assert api.get("/api/flows/").json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert api.get("/api/flows/main/").status_code == 404


def test_list_is_paginated(api: APIClient, revision: ConfigRevision) -> None:
    first = api.get("/api/flows/", {"page_size": 2}).json()
    assert [f["name"] for f in first["results"]] == ["main", "other"]
    second = api.get(first["next"]).json()
    assert [f["name"] for f in second["results"]] == ["sub"]
    assert second["next"] is None


def test_detail_has_nodes_edges_conditions_and_failures(api: APIClient, revision: ConfigRevision) -> None:
    body = api.get("/api/flows/main/").json()
    assert body["name"] == "main"
    assert body["revision"] == revision.number
    assert body["nodes"] == [
        {"name": "Fetch", "kind": "task"},
        {"name": "Parse", "kind": "task"},
        {"name": "Report", "kind": "task"},
        {"name": "sub", "kind": "flow"},
    ]
    first, guarded, to_sub = body["edges"]
    assert (first["index"], first["from_nodes"], first["to_nodes"], first["condition"], first["condition_text"]) == (
        0, [], ["Fetch"], None, "True")
    assert guarded["condition"] == {"name": "fieldEqual", "node": "Fetch", "args": {"key": "kind", "value": "source"}}
    assert guarded["condition_text"] == 'fieldEqual(node=Fetch, key="kind", value="source")'
    assert (to_sub["from_nodes"], to_sub["to_nodes"]) == (["Parse"], ["sub"])
    assert body["failures"] == [
        {"index": 0, "nodes": ["Fetch"], "fallback": ["Report"], "condition": None, "condition_text": "True"}
    ]
    assert isinstance(body["options"], dict)


def test_detail_of_unknown_flow_is_404(api: APIClient, revision: ConfigRevision) -> None:
    assert api.get("/api/flows/nope/").status_code == 404


@pytest.mark.parametrize(
    ("fmt", "content_type", "magic"),
    [("svg", "image/svg+xml", b"<svg"), ("png", "image/png", b"\x89PNG"), ("dot", "text/vnd.graphviz", b"digraph")],
)
def test_graph_formats(api: APIClient, revision: ConfigRevision, fmt: str, content_type: str, magic: bytes) -> None:
    response = api.get("/api/flows/main/graph/", {"format": fmt})
    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == content_type
    assert magic in response.content[:400]
    assert b"Fetch" in response.content or fmt == "png"


def test_graph_defaults_to_svg_and_honours_accept(api: APIClient, revision: ConfigRevision) -> None:
    assert api.get("/api/flows/main/graph/")["Content-Type"] == "image/svg+xml"
    assert api.get("/api/flows/main/graph/", HTTP_ACCEPT="image/png")["Content-Type"] == "image/png"


def test_graph_errors_are_json(api: APIClient, revision: ConfigRevision) -> None:
    unknown = api.get("/api/flows/nope/graph/", {"format": "png"})
    assert (unknown.status_code, unknown["Content-Type"]) == (404, "application/json")
    bad_format = api.get("/api/flows/main/graph/", {"format": "pdf"})
    assert (bad_format.status_code, bad_format["Content-Type"]) == (404, "application/json")


def test_graph_when_graphs_are_disabled_is_503(api: APIClient, revision: ConfigRevision) -> None:
    with override_settings(SELINON_DJANGO={"GRAPHS_ENABLED": False}):
        response = api.get("/api/flows/main/graph/", {"format": "svg"})
    assert response.status_code == 503
    assert "disabled" in response.json()["detail"]
