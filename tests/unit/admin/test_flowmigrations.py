"""Flow migrations in the admin: the revision diff names the migrations between two revisions
(or how to generate the missing one) with the policy per flow; the read-only migration pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from selinon_django.config import SourceFile, load_config_from_sources
from selinon_django.engine.migration_plan import generate_migration
from selinon_django.engine.migrations import TaintedFlowStrategy
from selinon_django.models import ConfigRevision, FlowMigrationRecord
from selinon_django.revisions import load_revision

pytestmark = pytest.mark.django_db
DIFF = "/admin/selinon_django/configrevision/diff/"
MIGRATIONS = "/admin/selinon_django/flowmigrationrecord/"

NODES = """
tasks:
  - {name: A, import: demo_project.tasks.metadata, classname: FetchMetadata}
  - {name: B, import: demo_project.tasks.metadata, classname: FetchMetadata}
  - {name: C, import: demo_project.tasks.metadata, classname: FetchMetadata}
flows: [tiny, side]
"""
SIDE = "  - name: side\n    edges:\n      - {from: [], to: [C]}\n"
#: revision 1; 2: A's edge goes to C instead of B; 3: only a condition more than 2; 4: side grows
FLOWS = [
    "flow-definitions:\n  - name: tiny\n    edges:\n      - {from: [], to: [A]}\n      - {from: [A], to: [B]}\n" + SIDE,
    "flow-definitions:\n  - name: tiny\n    edges:\n      - {from: [], to: [A]}\n      - {from: [A], to: [C]}\n" + SIDE,
    "flow-definitions:\n  - name: tiny\n    edges:\n      - {from: [], to: [A]}\n"
    "      - {from: [A], to: [C], condition: {name: alwaysFalse}}\n" + SIDE,
    "flow-definitions:\n  - name: tiny\n    edges:\n      - {from: [], to: [A]}\n"
    "      - {from: [A], to: [C], condition: {name: alwaysFalse}}\n" + SIDE + "      - {from: [C], to: [A]}\n",
]


@pytest.fixture()
def revisions(db: None) -> list[ConfigRevision]:
    loaded = []
    for flows in FLOWS:
        config = load_config_from_sources([SourceFile("nodes.yaml", "nodes", NODES),
                                           SourceFile("flows.yaml", "flows", flows)])
        loaded.append(load_revision(config, created_by_name="tester")[0])
    return loaded


def store(version: int, old: ConfigRevision, new: ConfigRevision, *, link: bool = True,
          strategy: TaintedFlowStrategy = TaintedFlowStrategy.IGNORE, **fields: Any) -> FlowMigrationRecord:
    migration = generate_migration(old.system_config(), new.system_config(), strategy)
    assert migration is not None
    return FlowMigrationRecord.objects.create(
        version=version, from_revision=old if link else None, to_revision=new if link else None,
        from_hash=old.content_hash, to_hash=new.content_hash, content=migration.to_dict(),
        tainted_flow_strategy=strategy.value, **fields,
    )


def diff_page(client: Client, old: int, new: int) -> str:
    response = client.get(f"{DIFF}?old={old}&new={new}")
    assert response.status_code == 200
    return str(response.content.decode())


def test_diff_says_no_migration_was_generated_and_how(revisions: list[ConfigRevision],
                                                      superuser_client: Client) -> None:
    content = diff_page(superuser_client, 1, 2)
    assert "No migration was generated from revision 1 to revision 2" in content
    assert "python manage.py selinon_migrate --old-revision 1 --new-revision 2" in content
    assert "<code>tiny</code>: <strong>pin</strong>" in content


@override_settings(SELINON_DJANGO={**getattr(settings, "SELINON_DJANGO", {}),
                                   "MIGRATION_POLICY": {"*": "pin", "tiny": "migrate"}})
def test_diff_shows_the_stored_migration_with_its_changes_and_the_policy(
    revisions: list[ConfigRevision], superuser_client: Client
) -> None:
    record = store(1, revisions[0], revisions[1], strategy=TaintedFlowStrategy.RETRY, created_by_name="ops")
    response = superuser_client.get(f"{DIFF}?old=1&new=2")
    assert response.context["migration_complete"] is True
    [path] = response.context["migration_paths"]
    assert (path.flow, path.policy, path.versions, path.reached, path.complete) == ("tiny", "migrate", [1], 2, True)
    content = response.content.decode()
    assert f'href="{MIGRATIONS}{record.pk}/change/">Migration 1</a>' in content
    assert "tainted flows: RETRY" in content and "by ops" in content
    assert "edge 1: A → B" in content and "edge 1 after A" in content
    assert "<code>tiny</code>: <strong>migrate</strong>" in content and "policy: migrate" in content
    assert "No migration was generated" not in content and "selinon_migrate" not in content


def test_diff_walks_the_migrations_per_flow_as_the_runtime_does(revisions: list[ConfigRevision],
                                                                superuser_client: Client) -> None:
    first, second, third, fourth = revisions
    store(1, first, second)
    # 1 -> 4 with only 1 -> 2 stored: tiny is there (2 -> 4 keeps its edges), side is not
    response = superuser_client.get(f"{DIFF}?old=1&new=4")
    side, tiny = response.context["migration_paths"]
    assert (tiny.flow, tiny.versions, tiny.complete) == ("tiny", [1], True)
    assert (side.flow, side.versions, side.reached, side.complete, side.problem) == ("side", [], 2, False, "")
    assert response.context["migration_complete"] is False
    assert "selinon_migrate --old-revision 2 --new-revision 4" in response.content.decode()
    # read from a Selinon directory before the revisions were loaded (hashes only), from revision 3
    # whose edges equal revision 2's: the runtime goes on with it, and so does the page
    store(2, third, fourth, link=False)
    response = superuser_client.get(f"{DIFF}?old=1&new=4")
    side, tiny = response.context["migration_paths"]
    assert (tiny.versions, tiny.complete, side.versions, side.reached, side.complete) == ([1], True, [2], 4, True)
    assert [record.version for record, _, _ in response.context["migration_records"]] == [1, 2]
    content = response.content.decode()
    assert "edge 1 after C" in content and "selinon_migrate" not in content
    # from revision 2 on, migration 1 is past
    response = superuser_client.get(f"{DIFF}?old=2&new=4")
    [side] = response.context["migration_paths"]
    assert (side.versions, side.complete) == ([2], True)


def test_diff_names_the_problem_when_a_migration_does_not_connect(revisions: list[ConfigRevision],
                                                                  superuser_client: Client) -> None:
    _, second, _, fourth = revisions
    store(1, second, fourth)  # computed from revision 2: revision 1's tiny has other edges
    response = superuser_client.get(f"{DIFF}?old=1&new=4")
    _, tiny = response.context["migration_paths"]
    assert not tiny.complete and tiny.reached == 1
    assert tiny.problem == "migration 1 was computed from another graph of tiny (revision 2) than revision 1 has"
    FlowMigrationRecord.objects.create(version=2, content={"migration": {}}, from_hash="f" * 64, to_hash="e" * 64)
    response = superuser_client.get(f"{DIFF}?old=2&new=4")
    [side] = response.context["migration_paths"]
    # migration 1 reaches revision 4: the unlinked one after it does not matter
    assert (side.versions, side.complete, side.problem) == ([1], True, "")
    response = superuser_client.get(f"{DIFF}?old=4&new=4")
    assert response.context["migration_paths"] == []


def test_diff_names_a_migration_that_names_no_stored_revision(revisions: list[ConfigRevision],
                                                               superuser_client: Client) -> None:
    FlowMigrationRecord.objects.create(version=1, content={"migration": {}}, from_hash="f" * 64, to_hash="e" * 64)
    response = superuser_client.get(f"{DIFF}?old=1&new=2")
    [tiny] = response.context["migration_paths"]
    assert (tiny.complete, tiny.problem) == (False, "migration 1 is not linked to stored revisions")
    content = response.content.decode()
    assert "not linked to stored revisions" in content and "No migration was generated from revision 1" in content


def test_diff_of_conditions_only_needs_no_migration(revisions: list[ConfigRevision],
                                                    superuser_client: Client) -> None:
    content = diff_page(superuser_client, 2, 3)
    assert "No migration is needed" in content and "selinon_migrate" not in content


def test_migration_list_and_page_are_read_only(revisions: list[ConfigRevision], superuser_client: Client) -> None:
    record = store(1, revisions[0], revisions[1], strategy=TaintedFlowStrategy.FAIL, created_by_name="ops")
    store(2, revisions[2], revisions[3], link=False)
    response = superuser_client.get(MIGRATIONS)
    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert [row.version for row in rows] == [2, 1]
    content = response.content.decode()
    assert "FAIL" in content and ">tiny<" in content and ">side<" in content
    assert revisions[2].content_hash[:12] in content  # no revision keys: the hash is shown
    page = superuser_client.get(f"{MIGRATIONS}{record.pk}/change/").content.decode()
    assert '&quot;tainted_flow_strategy&quot;: &quot;FAIL&quot;' in page  # the N.json, indented
    assert '\n  &quot;migration&quot;: {' in page
    assert "edge 1: A → B" in page and "policy: pin" in page
    assert superuser_client.get(f"{MIGRATIONS}add/").status_code == 403
    assert superuser_client.post(f"{MIGRATIONS}{record.pk}/delete/").status_code == 403


def test_migration_list_needs_its_view_permission(revisions: list[ConfigRevision], make_client: Any) -> None:
    assert make_client("runs", "view_flowrun", "view_configrevision").get(MIGRATIONS).status_code == 403
    assert make_client("mig", "view_flowmigrationrecord").get(MIGRATIONS).status_code == 200


def test_migration_list_queries_do_not_grow_with_rows(
    revisions: list[ConfigRevision], superuser_client: Client, django_assert_max_num_queries: Any
) -> None:
    store(1, revisions[0], revisions[1], created_by_name="ops")
    superuser_client.get(MIGRATIONS)
    with django_assert_max_num_queries(20) as captured:
        superuser_client.get(MIGRATIONS)
    few = len(captured)
    for version in range(2, 60):
        store(version, revisions[0], revisions[1], link=version % 2 == 0)
    with django_assert_max_num_queries(few):
        response = superuser_client.get(MIGRATIONS)
    assert len(response.context["cl"].result_list) == 58 + 1
