"""Configuration revisions: loading, immutability, the current revision, rebuilding the config."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError

from selinon_django.config import content_hash
from selinon_django.models import (
    ConfigRevision,
    ConfigSource,
    EdgeDefinition,
    FailureDefinition,
    FlowDefinition,
    ImmutableRowError,
    StorageDefinition,
    TaskDefinition,
)
from selinon_django.models.definitions import clear_system_config_cache
from selinon_django.revisions import NoRevisionError, current_revision, get_revision, load_revision
from tests.unit.commands.helpers import example_config, fixture_config, row_counts

pytestmark = pytest.mark.django_db


def test_load_writes_revision_and_definition_rows() -> None:
    config = fixture_config()
    revision, created = load_revision(config, created_by_name="alice", comment="first")

    assert created is True
    assert revision.number == 1
    assert revision.content_hash == content_hash(config)
    assert (revision.created_by_name, revision.comment) == ("alice", "first")
    assert [(s.role, s.path.rsplit("/", 1)[-1]) for s in revision.sources.all()] == [
        ("nodes", "nodes.yaml"),
        ("flows", "items.yaml"),
        ("flows", "main.yaml"),
    ]
    assert "FIXTURE_QUEUE_PREFIX" in ConfigSource.objects.get(revision=revision, role="nodes").text

    tasks = {t.name: t for t in TaskDefinition.objects.filter(revision=revision)}
    assert set(tasks) == {"Fetch", "Parse", "Report", "Backup", "Item"}
    # the queue as written: an expanded value may differ per deployment
    assert tasks["Parse"].queue == "{FIXTURE_QUEUE_PREFIX}_parse"
    assert (tasks["Fetch"].module, tasks["Fetch"].classname, tasks["Fetch"].storage) == (
        "example_tasks",
        "Step",
        "Memory",
    )
    assert StorageDefinition.objects.get(revision=revision).name == "Memory"

    main = FlowDefinition.objects.get(revision=revision, name="main")
    assert main.queue == "main_dispatcher"
    edges = list(EdgeDefinition.objects.filter(flow=main).order_by("index"))
    assert [(e.from_nodes, e.to_nodes) for e in edges] == [
        ([], ["Fetch"]),
        (["Fetch"], ["Parse"]),
        (["Fetch"], ["items"]),
        (["Parse", "items"], ["Report"]),
    ]
    assert edges[0].condition is None
    assert edges[1].condition == {"name": "fieldEqual", "node": "Fetch", "args": {"key": "kind", "value": "source"}}
    assert edges[2].foreach == {"function": "three", "import": "example_tasks", "propagate_result": False}
    failures = list(FailureDefinition.objects.filter(flow=main).order_by("index"))
    assert [(f.nodes, f.fallback) for f in failures] == [(["Fetch"], ["Backup"]), (["Parse"], True)]


def test_same_content_creates_nothing() -> None:
    first, _ = load_revision(fixture_config())
    before = row_counts()
    again, created = load_revision(fixture_config())
    assert created is False
    assert again.pk == first.pk
    assert row_counts() == before


def test_older_content_after_newer_is_a_new_revision() -> None:
    one, _ = load_revision(fixture_config())
    two, _ = load_revision(example_config("docs_flow1"))
    three, created = load_revision(fixture_config())

    assert created is True
    assert [one.number, two.number, three.number] == [1, 2, 3]
    assert three.content_hash == one.content_hash
    assert ConfigRevision.objects.current() == three
    assert current_revision() == three
    assert get_revision(2) == two
    assert get_revision(None) == three


def test_no_revision() -> None:
    assert ConfigRevision.objects.current() is None
    with pytest.raises(NoRevisionError, match="no configuration revision is loaded yet"):
        current_revision()
    load_revision(fixture_config())
    with pytest.raises(NoRevisionError, match=r"revision 7 does not exist \(revisions are 1\.\.1\)"):
        get_revision(7)


def test_dry_run_writes_nothing() -> None:
    before = row_counts()
    revision, created = load_revision(fixture_config(), dry_run=True)
    assert created is True
    assert revision.pk is None
    assert revision.number == 1
    assert row_counts() == before


def test_revision_rows_are_immutable() -> None:
    revision, _ = load_revision(fixture_config())
    revision.comment = "changed"
    with pytest.raises(ImmutableRowError):
        revision.save()
    task = TaskDefinition.objects.filter(revision=revision).first()
    assert task is not None
    task.max_retry = 9
    with pytest.raises(ImmutableRowError):
        task.save()
    assert ConfigRevision.objects.get(pk=revision.pk).comment == ""
    assert TaskDefinition.objects.get(pk=task.pk).max_retry == 0


def test_system_config_round_trip_and_cache() -> None:
    config = fixture_config()
    revision, _ = load_revision(config)
    fresh = ConfigRevision.objects.get(pk=revision.pk)

    rebuilt = fresh.system_config()
    assert content_hash(rebuilt) == revision.content_hash
    assert rebuilt.task_queue("Parse") == "q_parse"
    assert set(rebuilt.flows) == {"main", "items"}
    assert ConfigRevision.objects.get(pk=revision.pk).system_config() is rebuilt  # cached per process

    clear_system_config_cache()
    assert fresh.system_config() is not rebuilt
    assert content_hash(fresh.system_config()) == revision.content_hash


def test_created_by_user_gives_the_name() -> None:
    user = get_user_model().objects.create_user(username="bob", password="x")
    revision, _ = load_revision(fixture_config(), created_by=user)
    assert revision.created_by == user
    assert revision.created_by_name == "bob"


def test_failed_load_writes_no_row(monkeypatch: pytest.MonkeyPatch) -> None:
    load_revision(example_config("docs_flow1"))
    before = row_counts()

    def broken_bulk_create(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    # Fails after the revision, its sources, tasks and storages and a flow row were written.
    monkeypatch.setattr(EdgeDefinition.objects, "bulk_create", broken_bulk_create)
    with pytest.raises(RuntimeError, match="disk full"):
        load_revision(fixture_config())
    assert row_counts() == before
    assert ConfigRevision.objects.current().number == 1  # type: ignore[union-attr]


def test_concurrent_load_taking_the_number_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """A concurrent load that took the number first: this one retries instead of failing."""
    original_save = ConfigRevision.save
    calls: list[int] = []

    def racing_save(self: ConfigRevision, *args: Any, **kwargs: Any) -> None:
        calls.append(self.number)
        if len(calls) == 1:
            raise IntegrityError("UNIQUE constraint failed: selinon_django_configrevision.number")
        original_save(self, *args, **kwargs)

    monkeypatch.setattr(ConfigRevision, "save", racing_save)
    revision, created = load_revision(fixture_config())
    assert created is True
    assert len(calls) == 2
    assert ConfigRevision.objects.count() == 1
    assert revision.number == 1
