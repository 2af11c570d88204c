"""The admin's revision diff page and the REST API's revision diff pair edges and fallbacks by one
rule (engine.migration_plan): the same two revisions give the same added, removed and changed
edges on both, an edited edge being "changed" on both."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from rest_framework.test import APIClient

from selinon_django.admin.diffing import EdgeChange, FailureChange
from selinon_django.config import SourceFile, load_config_from_sources
from selinon_django.config.normalise import edge_data, failure_data
from selinon_django.models import ConfigRevision
from selinon_django.revisions import load_revision

pytestmark = pytest.mark.django_db

NODES = """
tasks:
  - {name: A, import: demo_project.tasks.metadata, classname: FetchMetadata}
  - {name: B, import: demo_project.tasks.metadata, classname: FetchMetadata}
  - {name: C, import: demo_project.tasks.metadata, classname: FetchMetadata}
  - {name: D, import: demo_project.tasks.metadata, classname: FetchMetadata}
flows: [tiny]
"""
OLD = """
flow-definitions:
  - name: tiny
    edges:
      - {from: [], to: [A]}
      - {from: [A], to: [B]}
      - {from: [A], to: [C]}
      - {from: [A], to: [C]}
      - {from: [B], to: [D]}
    failures:
      - {nodes: [B], fallback: [D]}
"""
#: A -> B edited (a condition), one of the two A -> C gone, B -> D now C -> D, A -> D new,
#: the fallback of B gets a condition
NEW = """
flow-definitions:
  - name: tiny
    edges:
      - {from: [], to: [A]}
      - {from: [A], to: [B], condition: {name: alwaysFalse}}
      - {from: [A], to: [C]}
      - {from: [C], to: [D]}
      - {from: [A], to: [D]}
    failures:
      - {nodes: [B], fallback: [D], condition: {name: alwaysFalse}}
"""


def _revision(flows: str) -> ConfigRevision:
    sources = [SourceFile("nodes.yaml", "nodes", NODES), SourceFile("flows.yaml", "flows", flows)]
    config = load_config_from_sources(sources)
    return load_revision(config, created_by_name="tester")[0]


def _viewer(username: str) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_configrevision",
                                                     content_type__app_label="selinon_django"))
    return user


def _admin_changes(items: list[EdgeChange] | list[FailureChange], data: Any) -> dict[str, list[Any]]:
    """The admin page's pairs in the API's shape (normalised data of each side)."""
    result: dict[str, list[Any]] = {"added": [], "removed": [], "changed": []}
    for item in items:
        if item.change == "added":
            result["added"].append(data(item.new))
        elif item.change == "removed":
            result["removed"].append(data(item.old))
        elif item.change == "changed":
            result["changed"].append({"before": data(item.old), "after": data(item.new)})
    return result


def test_admin_and_api_give_the_same_edge_changes() -> None:
    old, new = _revision(OLD), _revision(NEW)

    admin = Client()
    admin.force_login(_viewer("page-viewer"))
    response = admin.get(f"/admin/selinon_django/configrevision/diff/?old={old.number}&new={new.number}")
    assert response.status_code == 200
    [admin_flow] = response.context["diff"].changed_flows

    api = APIClient()
    api.force_authenticate(_viewer("api-viewer"))
    body = api.get(f"/api/revisions/{new.number}/diff/", {"base": old.number}).json()
    [api_flow] = body["flows"]["changed"]

    admin_edges = _admin_changes(admin_flow.edges, edge_data)
    assert admin_edges == api_flow["edges"]
    # and what both say is the pairing rule, not an accident of two rules agreeing
    assert api_flow["edges"] == {
        "added": [{"from": ["C"], "to": ["D"]}, {"from": ["A"], "to": ["D"]}],
        "removed": [{"from": ["A"], "to": ["C"]}, {"from": ["B"], "to": ["D"]}],
        "changed": [{"before": {"from": ["A"], "to": ["B"]},
                     "after": {"from": ["A"], "to": ["B"], "condition": {"name": "alwaysFalse"}}}],
    }
    assert _admin_changes(admin_flow.failures, failure_data) == api_flow["failures"]
    assert api_flow["failures"]["changed"] == [
        {"before": {"nodes": ["B"], "fallback": ["D"]},
         "after": {"nodes": ["B"], "fallback": ["D"], "condition": {"name": "alwaysFalse"}}},
    ]
    assert admin_flow.counts == {"added": 2, "removed": 2, "changed": 2}
