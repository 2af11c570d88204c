"""Regression (issue 13, item 3): a configuration uploaded by a non-superuser cannot put a link or a
script into the graphs a superuser looks at, in the admin or through the REST API.

The names are the report's: a flow named ``<a> { x [URL="javascript:alert(1)"] } digraph <b>``
put a ``javascript:`` link into the SVG that the flow's admin page inlines. The names stay visible
as text (escaped); what must never appear is an element or attribute that a browser acts on.
"""

from __future__ import annotations

import json
import uuid
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import caches
from django.test import Client
from django.utils.html import escape
from rest_framework.test import APIClient

from selinon_django.config import SourceFile, load_config_from_sources
from selinon_django.models import ConfigRevision, FlowDefinition, FlowRun, NodeRun
from selinon_django.revisions import load_revision

pytestmark = pytest.mark.django_db

FLOW = '<a> { x [URL="javascript:alert(1)"] } digraph <b>'
SUBFLOW = 'sub" onmouseover="alert(2)'
TASK = "<svg onload=alert(3)>"
OTHER = 'T\\" URL="javascript:alert(4)'
STORAGE = "<script>alert(5)</script>"
CONDITION_VALUE = '"]; evil [URL="javascript:alert(6)" label="'
IMPORT = "demo_project.tasks.never_imported"

DOCUMENT = {
    "tasks": [
        {"name": TASK, "import": IMPORT, "classname": "A", "storage": STORAGE},
        {"name": OTHER, "import": IMPORT, "classname": "B"},
    ],
    "storages": [{"name": STORAGE, "import": "selinon_django.storages.memory", "classname": "InMemoryStorage"}],
    "flows": [FLOW, SUBFLOW],
    "flow-definitions": [
        {
            "name": FLOW,
            "edges": [
                {"from": None, "to": TASK},
                {
                    "from": TASK,
                    "to": [OTHER, SUBFLOW],
                    "condition": {"name": "fieldEqual", "node": TASK, "args": {"key": "k", "value": CONDITION_VALUE}},
                },
            ],
            "failures": [
                {
                    "nodes": TASK,
                    "fallback": OTHER,
                    "condition": {"name": "argsFieldEqual", "args": {"key": "javascript:", "value": CONDITION_VALUE}},
                }
            ],
        },
        {"name": SUBFLOW, "edges": [{"from": None, "to": OTHER}]},
    ],
}


@pytest.fixture(autouse=True)
def _no_cached_graphs() -> None:
    caches["default"].clear()


@pytest.fixture()
def uploaded(db: None) -> ConfigRevision:
    """The configuration as an uploader with just the upload permission stores it."""
    uploader = User.objects.create_user("uploader", is_staff=True)
    uploader.user_permissions.add(
        Permission.objects.get(codename="add_configrevision", content_type__app_label="selinon_django")
    )
    config = load_config_from_sources([SourceFile("upload.yaml", "nodes", json.dumps(DOCUMENT))])
    revision, created = load_revision(config, created_by=uploader)
    assert created and not uploader.is_superuser
    return revision


class _Page(HTMLParser):
    """Elements and attributes of a page; which of them are inside the graph's <div>."""

    def __init__(self) -> None:
        super().__init__()
        self.attributes: list[tuple[str, str, str]] = []  # (tag, attribute, value) on the whole page
        self.graph_elements: list[tuple[str, dict[str, str]]] = []
        self.graphs = 0
        self._depth = 0  # > 0 while inside <div class="selinon-graph">

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.attributes.extend((tag, name, value) for name, value in values.items())
        if self._depth:
            self.graph_elements.append((tag, values))
            if tag == "div":
                self._depth += 1
        elif tag == "div" and "selinon-graph" in values.get("class", "").split():
            self._depth, self.graphs = 1, self.graphs + 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if self._depth and tag == "div":
            self._depth -= 1

    def handle_endtag(self, tag: str) -> None:
        if self._depth and tag == "div":
            self._depth -= 1


def read_page(content: bytes) -> _Page:
    page = _Page()
    page.feed(content.decode())
    return page


def script_urls(attributes: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Attributes whose value a browser would run as a script URL (browsers skip whitespace and
    control characters in a scheme; a name in a link's query string is no scheme)."""
    return [
        (tag, name, value)
        for tag, name, value in attributes
        if (
            name in ("href", "xlink:href", "src", "action", "formaction")
            and "".join(ch for ch in value if ch > " ").lower().startswith(("javascript:", "vbscript:", "data:"))
        )
        or (name == "style" and "javascript:" in value.lower())
    ]


def assert_safe_graph(page: _Page, allowed_links: set[str] | None = None) -> None:
    assert page.graphs >= 1
    tags = [tag for tag, _ in page.graph_elements]
    assert "svg" in tags, "the graph was drawn, not replaced by a notice"
    assert not {"script", "foreignobject", "iframe", "image", "use"} & set(tags)
    assert [name for _, values in page.graph_elements for name in values if name.startswith("on")] == []
    links = [values.get("xlink:href") or values.get("href") for tag, values in page.graph_elements if tag == "a"]
    assert set(links) <= (allowed_links or set()), links
    assert script_urls(page.attributes) == []


def test_flow_page_of_an_uploaded_configuration_holds_no_link_or_script(
    uploaded: ConfigRevision, superuser_client: Client
) -> None:
    for name in (FLOW, SUBFLOW):
        flow = FlowDefinition.objects.get(revision=uploaded, name=name)
        response = superuser_client.get(f"/admin/selinon_django/flowdefinition/{flow.pk}/change/")
        assert response.status_code == 200
        page = read_page(response.content)
        assert_safe_graph(page, allowed_links=set())
        assert escape(name).encode() in response.content  # the name is shown, as text


def test_run_page_keeps_only_its_own_links(uploaded: ConfigRevision, superuser_client: Client) -> None:
    run = FlowRun.objects.create(id=str(uuid.uuid4()), flow_name=FLOW, revision=uploaded, status="running")
    child = FlowRun.objects.create(
        id=str(uuid.uuid4()), flow_name=SUBFLOW, revision=uploaded, status="running", parent_run=run, root_run=run
    )
    NodeRun.objects.bulk_create(
        [
            NodeRun(id=str(uuid.uuid4()), flow_run=run, name=TASK, status="succeeded"),
            NodeRun(id=str(uuid.uuid4()), flow_run=run, name=OTHER, status="failed"),
            NodeRun(id=child.pk, flow_run=run, name=SUBFLOW, kind="flow", status="started"),
        ]
    )
    response = superuser_client.get(f"/admin/selinon_django/flowrun/{run.pk}/change/")
    assert response.status_code == 200
    page = read_page(response.content)
    own = {f"/admin/selinon_django/flowrun/{child.pk}/change/", *(f"#selinon-group-{i}" for i in range(5))}
    assert_safe_graph(page, allowed_links=own)
    links = {values.get("xlink:href") for tag, values in page.graph_elements if tag == "a"}
    assert f"/admin/selinon_django/flowrun/{child.pk}/change/" in links  # the sub-flow still links to its run
    assert len(links) == 3


def test_revision_diff_page_holds_no_link_or_script(uploaded: ConfigRevision, superuser_client: Client) -> None:
    changed: dict[str, Any] = json.loads(json.dumps(DOCUMENT))
    changed["flow-definitions"][0]["edges"].append({"from": OTHER, "to": SUBFLOW})
    newer, _ = load_revision(load_config_from_sources([SourceFile("upload.yaml", "nodes", json.dumps(changed))]))
    response = superuser_client.get(
        f"/admin/selinon_django/configrevision/diff/?old={uploaded.number}&new={newer.number}"
    )
    assert response.status_code == 200
    assert_safe_graph(read_page(response.content), allowed_links=set())


def svg_problems(svg: bytes) -> list[str]:
    root = ElementTree.fromstring(svg)
    problems = []
    for element in root.iter():
        local = element.tag.rpartition("}")[2]
        if local in ("a", "script", "foreignObject"):
            problems.append(local)
        for name, value in element.attrib.items():
            if name.rpartition("}")[2].startswith("on") or "javascript:" in value:
                problems.append(f"{name}={value}")
    return problems


def test_rest_graphs_of_an_uploaded_configuration_hold_no_link_or_script(uploaded: ConfigRevision) -> None:
    api = APIClient()
    api.force_authenticate(User.objects.create_superuser("root", password=None))
    response = api.get(f"/api/flows/{quote(FLOW, safe='')}/graph/", {"format": "svg"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "image/svg+xml"
    assert "sandbox" in response["Content-Security-Policy"]
    assert svg_problems(response.content) == []
    assert b"<a" not in response.content and b"href" not in response.content

    run = FlowRun.objects.create(id=str(uuid.uuid4()), flow_name=FLOW, revision=uploaded, status="running")
    NodeRun.objects.create(id=str(uuid.uuid4()), flow_run=run, name=TASK, status="failed")
    response = api.get(f"/api/runs/{run.pk}/graph/", {"format": "svg"})
    assert response.status_code == 200, response.content
    assert svg_problems(response.content) == []

    dot = api.get(f"/api/flows/{quote(FLOW, safe='')}/graph/", {"format": "dot"}).content.decode()
    assert dot.splitlines()[0] == 'digraph "<a> { x [URL=\\"javascript:alert(1)\\"] } digraph <b>" {'
