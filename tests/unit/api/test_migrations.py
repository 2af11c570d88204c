"""Flow migrations over the API: who may read them, what a list and a detail show, filters, queries."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from selinon_django.config import load_config_from_sources
from selinon_django.engine.migration_plan import generate_migration
from selinon_django.engine.migrations import TaintedFlowStrategy
from selinon_django.models import ConfigRevision, FlowMigrationRecord
from selinon_django.revisions import load_revision
from tests.unit.api.conftest import FLOWS_YAML, sources

pytestmark = pytest.mark.django_db

#: main: Fetch's edge now also goes to Report; other: a new edge after Lonely
FLOWS_2 = (
    FLOWS_YAML.replace("        to: Parse\n", "        to: [Parse, Report]\n")
    .replace("        to: Lonely\n", "        to: Lonely\n      - from: Lonely\n        to: Report\n")
)
#: sub: a new edge after Report
FLOWS_3 = FLOWS_2.replace("        to: Report\n  - name: other", "        to: Report\n      - from: Report\n"
                                                                   "        to: Lonely\n  - name: other")


def _load(flows: str) -> ConfigRevision:
    return load_revision(load_config_from_sources(sources(flows=flows)))[0]


def _store(version: int, old: ConfigRevision, new: ConfigRevision, *, link: bool = True, **fields: Any) -> Any:
    strategy = fields.pop("strategy", TaintedFlowStrategy.IGNORE)
    migration = generate_migration(old.system_config(), new.system_config(), strategy)
    assert migration is not None
    return FlowMigrationRecord.objects.create(
        version=version,
        from_revision=old if link else None,
        to_revision=new if link else None,
        from_hash=old.content_hash,
        to_hash=new.content_hash,
        content=migration.to_dict(include_meta=False),
        tainted_flow_strategy=migration.tainted_flow_strategy.value,
        **fields,
    )


@pytest.fixture
def migrations(revision: ConfigRevision, make_user: Callable[..., User]) -> list[FlowMigrationRecord]:
    """1: revision 1 -> 2 (main, other; FAIL, by a user); 2: 2 -> 3 (sub), linked by hash only."""
    second, third = _load(FLOWS_2), _load(FLOWS_3)
    author = make_user(username="author")
    first = _store(1, revision, second, strategy=TaintedFlowStrategy.FAIL, created_by=author)
    read = _store(2, second, third, link=False, created_by_name="read from migrations/2.json")
    return [first, read]


@pytest.fixture
def reader(make_user: Callable[..., User], client_for: Callable[[User | None], APIClient]) -> APIClient:
    return client_for(make_user("view_flowmigrationrecord"))


@pytest.mark.parametrize("path", ["/api/migrations/", "/api/migrations/1/"])
def test_anonymous_is_401_and_a_user_without_the_permission_403(
    path: str, migrations: list[FlowMigrationRecord], viewer: User, client_for: Callable[[User | None], APIClient]
) -> None:
    anonymous = APIClient().get(path)
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Token")
    # viewer may read runs and revisions, not migrations
    assert client_for(viewer).get(path).status_code == 403


def test_session_login_works_too(migrations: list[FlowMigrationRecord], make_user: Callable[..., User]) -> None:
    client = APIClient()
    client.force_login(make_user("view_flowmigrationrecord"))
    assert client.get("/api/migrations/").status_code == 200


def test_list_is_newest_first_with_revisions_flows_and_author(
    migrations: list[FlowMigrationRecord], reader: APIClient
) -> None:
    body = reader.get("/api/migrations/").json()
    assert body["count"] == 2
    newest, oldest = body["results"]
    assert (newest["version"], oldest["version"]) == (2, 1)
    assert (oldest["from_revision"], oldest["to_revision"], oldest["tainted_flow_strategy"]) == (1, 2, "FAIL")
    assert oldest["flows"] == ["main", "other"] and oldest["created_by"] == "author"
    assert oldest["url"].endswith("/api/migrations/1/")
    # stored without foreign keys: linked to the revisions by content hash, as the runtime does
    assert (newest["from_revision"], newest["to_revision"], newest["flows"]) == (2, 3, ["sub"])
    assert newest["created_by"] is None and newest["created_by_name"] == "read from migrations/2.json"
    assert "content" not in newest


def test_a_migration_of_configurations_never_loaded_has_no_revisions(
    migrations: list[FlowMigrationRecord], reader: APIClient
) -> None:
    FlowMigrationRecord.objects.create(version=3, content={"migration": {"x": {}}, "tainted_flow_strategy": "RETRY"},
                                       from_hash="f" * 64, to_hash="e" * 64, tainted_flow_strategy="RETRY")
    body = reader.get("/api/migrations/3/").json()
    assert (body["from_revision"], body["to_revision"], body["flows"]) == (None, None, ["x"])
    assert body["flow_changes"] == [{"flow": "x", "policy": "pin", "translation": [], "tainted_edges": [],
                                     "tainting_nodes": []}]


@override_settings(SELINON_DJANGO={**getattr(settings, "SELINON_DJANGO", {}),
                                   "MIGRATION_POLICY": {"*": "pin", "other": "migrate"}})
def test_detail_has_the_content_and_per_flow_changes_with_the_policy(
    migrations: list[FlowMigrationRecord], reader: APIClient
) -> None:
    body = reader.get("/api/migrations/1/").json()
    assert body["content"] == migrations[0].content
    assert (body["version"], body["from_revision"], body["to_revision"], body["tainted_flow_strategy"]) == (
        1, 1, 2, "FAIL")
    assert body["from_hash"] == migrations[0].from_hash and body["created_at"]
    main, other = body["flow_changes"]
    assert main == {
        "flow": "main",
        "policy": "pin",
        "translation": [],
        "tainted_edges": [{"edge": 1, "from_nodes": ["Fetch"], "to_nodes": ["Parse"],
                           "condition": {"name": "fieldEqual", "node": "Fetch",
                                         "args": {"key": "kind", "value": "source"}}}],
        "tainting_nodes": [{"edge": 1, "nodes": ["Fetch"]}],
    }
    assert other["flow"] == "other" and other["policy"] == "migrate"
    assert other["tainted_edges"] == [] and other["tainting_nodes"] == [{"edge": 1, "nodes": ["Lonely"]}]


def test_detail_shows_the_translation_of_moved_edges(revision: ConfigRevision, reader: APIClient) -> None:
    # a new first edge of "sub": the old edge 0 is now edge 1
    moved = _load(FLOWS_YAML.replace("      - from:\n        to: Report\n",
                                     "      - from:\n        to: Lonely\n      - from:\n        to: Report\n"))
    _store(1, revision, moved)
    [sub] = reader.get("/api/migrations/1/").json()["flow_changes"]
    assert sub["translation"] == [{"old_edge": 0, "new_edge": 1}]


def test_unknown_versions_are_404(migrations: list[FlowMigrationRecord], reader: APIClient) -> None:
    for version in ("9", "0", "99999999999999999999999"):
        assert reader.get(f"/api/migrations/{version}/").status_code == 404, version


@pytest.mark.parametrize(
    ("query", "versions"),
    [
        ("flow=main", [1]),
        ("flow=sub", [2]),
        ("flow=nope", []),
        ("from_revision=1", [1]),
        ("from_revision=2", [2]),  # linked by hash only
        ("to_revision=3", [2]),
        ("to_revision=2", [1]),
        ("from_revision=1&to_revision=3", []),
        ("flow=other&to_revision=2", [1]),
    ],
)
def test_list_filters(query: str, versions: list[int], migrations: list[FlowMigrationRecord],
                      reader: APIClient) -> None:
    response = reader.get(f"/api/migrations/?{query}")
    assert response.status_code == 200
    assert [item["version"] for item in response.json()["results"]] == versions


def test_filters_follow_the_link_the_list_shows_for_a_configuration_loaded_twice(
    migrations: list[FlowMigrationRecord], reader: APIClient
) -> None:
    again = _load(FLOWS_2)  # revision 4 holds revision 2's content: migration 2 now comes from it
    assert again.number == 4
    [newest, _] = reader.get("/api/migrations/").json()["results"]
    assert (newest["version"], newest["from_revision"], newest["to_revision"]) == (2, 4, 3)
    for query, versions in [("from_revision=4", [2]), ("from_revision=2", []), ("to_revision=3", [2])]:
        assert [item["version"] for item in reader.get(f"/api/migrations/?{query}").json()["results"]] == versions


@pytest.mark.parametrize("query", ["from_revision=abc", "to_revision=0", "from_revision=99999999999",
                                   "flow=" + "x" * 256, "flow=a%00b"])
def test_bad_filter_values_are_400_with_the_field(query: str, migrations: list[FlowMigrationRecord],
                                                  reader: APIClient) -> None:
    response = reader.get(f"/api/migrations/?{query}")
    assert response.status_code == 400
    assert set(response.json()) == {query.split("=")[0]}


def test_list_takes_no_query_per_row(revision: ConfigRevision, reader: APIClient,
                                     make_user: Callable[..., User]) -> None:
    second = _load(FLOWS_2)
    author = make_user(username="author")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert reader.get("/api/migrations/").status_code == 200
        return len(captured)

    # linked by key and by hash, with and without an author
    _store(1, revision, second, created_by=author)
    _store(2, second, revision, link=False)
    queries()  # the first request also loads the user's permissions
    few = queries()
    for version in range(3, 41):
        _store(version, revision, second, link=version % 2 == 0, created_by=author if version % 3 else None)
    assert queries() == few
