"""Definitions are read-only; flows show their graph; uploads need the permission and an allow-list."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from selinon_django.config import SourceFile, load_config_from_sources
from selinon_django.models import ConfigRevision, FlowDefinition
from selinon_django.revisions import load_revision

pytestmark = pytest.mark.django_db

NODES = b"""
tasks:
  - {name: A, import: demo_project.tasks.metadata, classname: FetchMetadata}
  - {name: B, import: demo_project.tasks.metadata, classname: FetchMetadata}
flows: [tiny]
"""
FLOWS = b"""
flow-definitions:
  - name: tiny
    edges:
      - {from: [], to: [A]}
      - {from: [A], to: [B]}
"""
ALLOWED = {"IMPORT_PREFIXES": ["demo_project."]}


def upload(client: Client, nodes: bytes = NODES, flows: bytes = FLOWS) -> Any:
    return client.post(
        "/admin/selinon_django/configrevision/upload/",
        {
            "nodes": SimpleUploadedFile("nodes.yaml", nodes),
            "flows": [SimpleUploadedFile("flows.yaml", flows)],
            "comment": "from a test",
        },
    )


@pytest.mark.parametrize("model", ["configrevision", "flowdefinition", "taskdefinition", "storagedefinition"])
def test_definitions_cannot_be_added_changed_or_deleted_even_by_a_superuser(
    model: str, revision: ConfigRevision, superuser_client: Client
) -> None:
    assert superuser_client.get(f"/admin/selinon_django/{model}/add/").status_code == 403
    listing = superuser_client.get(f"/admin/selinon_django/{model}/")
    assert listing.status_code == 200
    row = listing.context["cl"].result_list[0]
    page = superuser_client.get(f"/admin/selinon_django/{model}/{row.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert superuser_client.post(f"/admin/selinon_django/{model}/{row.pk}/delete/").status_code == 403


def test_flow_page_draws_the_graph_inline(revision: ConfigRevision, superuser_client: Client) -> None:
    flow = FlowDefinition.objects.get(revision=revision, name="demo_main")
    page = superuser_client.get(f"/admin/selinon_django/flowdefinition/{flow.pk}/change/")
    content = page.content.decode()
    assert '<svg class="selinon-svg"' in content
    assert "FetchMetadata" in content and "analyze_files" in content


def test_revision_list_shows_who_and_hash(revision: ConfigRevision, superuser_client: Client) -> None:
    content = superuser_client.get("/admin/selinon_django/configrevision/").content.decode()
    assert revision.short_hash in content and "tester" in content


def test_view_permission_alone_shows_definitions(revision: ConfigRevision, make_client: Any) -> None:
    client = make_client("viewer", "view_flowdefinition")
    assert client.get("/admin/selinon_django/flowdefinition/").status_code == 200
    assert client.get("/admin/selinon_django/taskdefinition/").status_code == 403


@override_settings(SELINON_DJANGO=ALLOWED)
def test_upload_needs_the_add_permission(revision: ConfigRevision, make_client: Any) -> None:
    viewer = make_client("viewer", "view_configrevision")
    assert viewer.get("/admin/selinon_django/configrevision/upload/").status_code == 403
    assert b"Upload a configuration" not in viewer.get("/admin/selinon_django/configrevision/").content
    assert upload(viewer).status_code == 403
    assert ConfigRevision.objects.count() == 1


@override_settings(SELINON_DJANGO={"IMPORT_PREFIXES": []})
def test_upload_is_off_without_import_prefixes(revision: ConfigRevision, superuser_client: Client) -> None:
    assert superuser_client.get("/admin/selinon_django/configrevision/upload/").status_code == 403
    assert b"Upload a configuration" not in superuser_client.get("/admin/selinon_django/configrevision/").content


@override_settings(SELINON_DJANGO=ALLOWED)
def test_upload_loads_a_new_revision(revision: ConfigRevision, make_client: Any) -> None:
    client = make_client("loader", "view_configrevision", "add_configrevision")
    assert b"Upload a configuration" in client.get("/admin/selinon_django/configrevision/").content
    response = upload(client)
    assert response.status_code == 302
    new = ConfigRevision.objects.current()
    assert new is not None and new.number == revision.number + 1
    assert new.created_by is not None and new.created_by.username == "loader"
    assert sorted(new.flows.values_list("name", flat=True)) == ["tiny"]
    assert [s.text.encode() for s in new.sources.all()] == [NODES, FLOWS]


@override_settings(SELINON_DJANGO=ALLOWED)
def test_refused_upload_lists_the_loader_errors_with_key_paths(
    revision: ConfigRevision, superuser_client: Client
) -> None:
    bad = FLOWS.replace(b"to: [B]", b"to: [Missing]")
    response = upload(superuser_client, flows=bad)
    assert response.status_code == 200
    issues = response.context["issues"]
    assert issues and any("Missing" in issue.message for issue in issues)
    assert any(issue.path for issue in issues)
    assert b"The configuration was refused" in response.content
    assert ConfigRevision.objects.count() == 1


@override_settings(SELINON_DJANGO=ALLOWED)
def test_upload_refuses_imports_outside_the_prefixes(revision: ConfigRevision, superuser_client: Client) -> None:
    response = upload(superuser_client, nodes=NODES.replace(b"demo_project.tasks.metadata", b"os"))
    assert response.status_code == 200
    assert any("'os' is not allowed" in issue.message for issue in response.context["issues"])
    assert ConfigRevision.objects.count() == 1


@override_settings(SELINON_DJANGO=ALLOWED)
def test_diff_marks_added_removed_and_changed(revision: ConfigRevision, superuser_client: Client) -> None:
    upload(superuser_client)
    changed = FLOWS.replace(b"{from: [A], to: [B]}", b"{from: [A], to: [B], condition: {name: alwaysFalse}}")
    upload(superuser_client, flows=changed)
    response = superuser_client.get("/admin/selinon_django/configrevision/diff/?old=2&new=3")
    diff = response.context["diff"]
    [tiny] = diff.changed_flows
    assert tiny.name == "tiny" and tiny.counts == {"added": 0, "removed": 0, "changed": 1}
    content = response.content.decode()
    assert "changed:" in content and "was:" in content and "#ff8c00" in content

    response = superuser_client.get("/admin/selinon_django/configrevision/diff/?old=1&new=2")
    diff = response.context["diff"]
    changes = {flow.name: flow.change for flow in diff.changed_flows}
    assert changes["tiny"] == "added" and changes["demo_main"] == "removed"
    assert "#1b9e3e" in response.content.decode() and "#d62728" in response.content.decode()


@override_settings(SELINON_DJANGO=ALLOWED)
def test_admin_upload_applies_the_upload_trust(revision: ConfigRevision, make_client: Any) -> None:
    """The admin's upload page goes through the same load as the REST API: an app module as the
    predicates module, an unlisted variable and a schema file on disk are refused, nothing written."""
    client = make_client("loader2", "view_configrevision", "add_configrevision")
    hostile = NODES.replace(b"flows: [tiny]", b"flows: [tiny]\nglobal: {predicates_module: selinon_django.triggers}")
    hostile = hostile.replace(
        b"classname: FetchMetadata}\n  - {name: B", b"classname: FetchMetadata, queue: 'x{HOME}'}\n  - {name: B"
    )
    hostile = hostile.replace(b"- {name: B, import: demo_project.tasks.metadata, classname: FetchMetadata}",
                              b"- {name: B, import: demo_project.tasks.metadata, classname: FetchMetadata, "
                              b"output_schema: /etc/passwd}")
    page = upload(client, nodes=hostile)
    assert page.status_code == 200
    text = "\n".join(str(issue) for issue in page.context["issues"])
    assert "global.predicates_module" in text and "not a predicates module" in text
    assert "'HOME'" in text and "UPLOAD_ENVIRONMENT" in text
    assert "not uploaded with the configuration" in text
    assert ConfigRevision.objects.count() == 1


@override_settings(SELINON_DJANGO=ALLOWED)
def test_admin_upload_takes_schema_files(revision: ConfigRevision, make_client: Any) -> None:
    client = make_client("loader3", "view_configrevision", "add_configrevision")
    nodes = NODES.replace(b"classname: FetchMetadata}\n  - {name: B", b"classname: FetchMetadata, "
                          b"output_schema: schemas/a.json}\n  - {name: B")
    response = client.post(
        "/admin/selinon_django/configrevision/upload/",
        {
            "nodes": SimpleUploadedFile("nodes.yaml", nodes),
            "flows": [SimpleUploadedFile("flows.yaml", FLOWS)],
            "schemas": [SimpleUploadedFile("a.json", b'{"type": "object"}')],
        },
    )
    assert response.status_code == 302, getattr(response, "context", None) and response.context["issues"]
    newest = ConfigRevision.objects.order_by("-number").first()
    assert newest is not None and newest.origin == "upload"
    assert dict(newest.system_config().tasks["A"].output_schema_document) == {"type": "object"}


def test_runs_link_of_a_flow_encodes_its_name(superuser_client: Client) -> None:
    nodes = NODES.decode().replace("flows: [tiny]", 'flows: ["a&b#c"]')
    flows = FLOWS.decode().replace("name: tiny", 'name: "a&b#c"')
    sources = [SourceFile("n.yaml", "nodes", nodes), SourceFile("f.yaml", "flows", flows)]
    load_revision(load_config_from_sources(sources))
    page = superuser_client.get("/admin/selinon_django/flowdefinition/")
    assert b"flow=a%26b%23c&amp;revision=1" in page.content
