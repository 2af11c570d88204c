"""Configuration revisions: list, detail with sources, diff, and loading YAML over HTTP."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from rest_framework.test import APIClient

from selinon_django.config import load_config_from_sources
from selinon_django.models import ConfigRevision, ConfigSource, FlowDefinition
from selinon_django.revisions import load_revision
from tests.unit.api.conftest import FLOWS_YAML, NODES_YAML, counts, sources, upload_body

pytestmark = pytest.mark.django_db

REVISIONS = "/api/revisions/"
PREFIXES = {"IMPORT_PREFIXES": ["demo_project."]}

CHANGED_FLOWS = FLOWS_YAML.replace("to: Lonely", "to: Report").replace(
    "    failures:\n      - nodes: Fetch\n        fallback: Report\n", "")
CHANGED_NODES = NODES_YAML.replace("    classname: Parse\n", "    classname: Parse\n    max_retry: 3\n").replace(
    "  - name: Lonely\n    import: demo_project.tasks.never_imported\n    classname: Lonely\n",
    "  - name: Extra\n    import: demo_project.tasks.never_imported\n    classname: Extra\n")


def test_list_newest_first_with_current_flag(api: APIClient, revision: ConfigRevision, viewer: User) -> None:
    second = load_revision(load_config_from_sources(sources(flows=CHANGED_FLOWS)), created_by=viewer,
                           comment="no fallback")[0]
    body = api.get(REVISIONS).json()
    assert body["count"] == 2
    newest, oldest = body["results"]
    assert (newest["number"], newest["is_current"], newest["created_by"], newest["comment"]) == (
        second.number, True, "viewer", "no fallback")
    assert (oldest["number"], oldest["is_current"], oldest["created_by"]) == (revision.number, False, None)
    assert newest["content_hash"] == second.content_hash
    assert newest["url"].endswith(f"/api/revisions/{second.number}/")


def test_detail_has_the_source_files(api: APIClient, revision: ConfigRevision) -> None:
    body = api.get(f"{REVISIONS}{revision.number}/").json()
    assert [(s["order"], s["path"], s["role"]) for s in body["sources"]] == [(0, "nodes.yaml", "nodes"),
                                                                            (1, "flows.yaml", "flows")]
    assert body["sources"][1]["text"] == FLOWS_YAML
    assert body["flows"] == ["main", "other", "sub"]
    assert body["tasks"] == ["Fetch", "Lonely", "Parse", "Report"]
    assert body["storages"] == ["Memory"]
    assert api.get(f"{REVISIONS}99/").status_code == 404


def test_diff_between_two_revisions(api: APIClient, revision: ConfigRevision) -> None:
    second = load_revision(load_config_from_sources(sources(CHANGED_NODES, CHANGED_FLOWS)))[0]
    body = api.get(f"{REVISIONS}{second.number}/diff/").json()
    assert (body["base"], body["target"]) == (revision.number, second.number)
    assert body["tasks"]["added"] == ["Extra"]
    assert body["tasks"]["removed"] == ["Lonely"]
    assert [c["name"] for c in body["tasks"]["changed"]] == ["Parse"]
    assert body["tasks"]["changed"][0]["after"]["max_retry"] == 3
    assert body["storages"] == {"added": [], "removed": [], "changed": []}
    assert body["flows"]["added"] == body["flows"]["removed"] == []
    changes = {c["name"]: c for c in body["flows"]["changed"]}
    assert set(changes) == {"main", "other"}
    assert changes["other"]["edges"] == {"added": [{"from": None, "to": ["Report"]}],
                                         "removed": [{"from": None, "to": ["Lonely"]}], "changed": []}
    assert changes["main"]["edges"] == {"added": [], "removed": [], "changed": []}
    assert changes["main"]["failures"]["removed"] == [{"nodes": ["Fetch"], "fallback": ["Report"]}]
    assert body["global"] is None
    # the other way round, by explicit base
    back = api.get(f"{REVISIONS}{revision.number}/diff/", {"base": second.number}).json()
    assert (back["tasks"]["added"], back["tasks"]["removed"]) == (["Lonely"], ["Extra"])


def test_diff_of_the_first_revision_is_against_nothing(api: APIClient, revision: ConfigRevision) -> None:
    body = api.get(f"{REVISIONS}{revision.number}/diff/").json()
    assert body["base"] == 0
    assert body["flows"]["added"] == ["main", "other", "sub"]
    assert body["tasks"]["removed"] == []


@pytest.mark.parametrize(("base", "status"), [("x", 400), ("-1", 400), ("42", 404)])
def test_diff_with_bad_base(api: APIClient, revision: ConfigRevision, base: str, status: int) -> None:
    response = api.get(f"{REVISIONS}{revision.number}/diff/", {"base": base})
    assert response.status_code == status


# --- upload ------------------------------------------------------------------------------------


def test_upload_creates_a_revision(api: APIClient) -> None:
    with override_settings(SELINON_DJANGO=PREFIXES):
        response = api.post(REVISIONS, upload_body(comment="from CI"), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["created"], body["dry_run"]) == (True, False)
    revision = ConfigRevision.objects.get(number=body["revision"]["number"])
    assert (revision.comment, revision.created_by.username if revision.created_by else None) == ("from CI", "operator")
    assert ConfigSource.objects.filter(revision=revision).count() == 2
    assert set(FlowDefinition.objects.filter(revision=revision).values_list("name", flat=True)) == {"main", "sub",
                                                                                                    "other"}
    assert body["revision"]["is_current"] is True


def test_upload_of_the_current_content_creates_nothing(api: APIClient, revision: ConfigRevision) -> None:
    with override_settings(SELINON_DJANGO=PREFIXES):
        response = api.post(REVISIONS, upload_body(), format="json")
    assert response.status_code == 200
    assert response.json()["created"] is False
    assert response.json()["revision"]["number"] == revision.number
    assert ConfigRevision.objects.count() == 1


def test_upload_dry_run_writes_nothing(api: APIClient) -> None:
    with override_settings(SELINON_DJANGO=PREFIXES):
        response = api.post(REVISIONS, upload_body(dry_run=True), format="json")
    assert response.status_code == 200
    assert response.json() == {"created": False, "dry_run": True, "revision": None}
    assert ConfigRevision.objects.count() == 0


def test_upload_is_refused_without_import_prefixes(api: APIClient) -> None:
    with override_settings(SELINON_DJANGO={}):
        response = api.post(REVISIONS, upload_body(), format="json")
    assert response.status_code == 403
    assert "IMPORT_PREFIXES" in response.json()["detail"]
    assert ConfigRevision.objects.count() == 0


def test_upload_needs_add_configrevision(make_user: Callable[..., User],
                                         client_for: Callable[[User | None], APIClient]) -> None:
    reader = client_for(make_user("view_configrevision"))
    with override_settings(SELINON_DJANGO=PREFIXES):
        response = reader.post(REVISIONS, upload_body(), format="json")
    assert response.status_code == 403
    assert ConfigRevision.objects.count() == 0


def test_refused_configuration_lists_the_loader_issues(api: APIClient, revision: ConfigRevision) -> None:
    broken = FLOWS_YAML.replace("to: Lonely", "to: Missing").replace("key: kind", "kee: kind")
    before = counts()
    with override_settings(SELINON_DJANGO=PREFIXES):
        response = api.post(REVISIONS, upload_body(flows=broken), format="json")
    assert response.status_code == 400
    body = response.json()
    assert "nothing was written" in body["detail"]
    assert body["errors"], body
    assert all(set(issue) == {"file", "path", "message"} for issue in body["errors"])
    missing = [i for i in body["errors"] if "Missing" in i["message"]]
    assert missing and missing[0]["file"] == "flows.yaml"
    assert missing[0]["path"].startswith("flow-definitions[2]")
    assert counts() == before


def test_yaml_syntax_error_is_a_400(api: APIClient) -> None:
    with override_settings(SELINON_DJANGO=PREFIXES):
        response = api.post(REVISIONS, upload_body(nodes="tasks: [unclosed"), format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["file"] == "nodes.yaml"
    assert ConfigRevision.objects.count() == 0


def test_imports_outside_the_prefixes_are_refused(api: APIClient) -> None:
    with override_settings(SELINON_DJANGO={"IMPORT_PREFIXES": ["elsewhere."]}):
        response = api.post(REVISIONS, upload_body(), format="json")
    assert response.status_code == 400
    messages = [issue["message"] for issue in response.json()["errors"]]
    assert any("demo_project.tasks.never_imported" in m and "not allowed" in m for m in messages)
    assert ConfigRevision.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "files"),
        ({"files": []}, "files"),
        ({"files": "nodes.yaml"}, "files"),
        ({"files": [{"path": "a.yaml", "role": "both", "text": "x"}]}, "files"),
        ({"files": [{"path": "f.yaml", "role": "flows", "text": FLOWS_YAML}]}, "files"),
        ({"files": [{"path": "a.yaml", "role": "nodes", "text": "x"}, {"path": "a.yaml", "role": "flows",
                                                                        "text": "y"}]}, "files"),
        ({**upload_body(), "dry_run": "often"}, "dry_run"),
    ],
)
def test_upload_refuses_malformed_requests(api: APIClient, body: dict[str, object], field: str) -> None:
    with override_settings(SELINON_DJANGO=PREFIXES):
        response = api.post(REVISIONS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert ConfigRevision.objects.count() == 0
