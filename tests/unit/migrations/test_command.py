"""selinon_migrate: the documentation's examples, sources of the two configurations, exit statuses."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError

from selinon_django.engine.migrations import TaintedFlowStrategy, apply_migrations, migration_from_json
from selinon_django.management.commands.selinon_migrate import EXIT_NOTHING_TO_MIGRATE
from selinon_django.models import FlowMigrationRecord
from selinon_django.revisions import load_revision
from tests.unit.migrations.helpers import BOTH, NODES, ONLY_TASK2, ONLY_TASK2_CONDITION, ONLY_TASK3, config, write

pytestmark = pytest.mark.django_db


def migrate(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("selinon_migrate", *args, stdout=out)
    return out.getvalue()


def files_args(tmp_path: Path, old: str, new: str) -> list[str]:
    old_nodes, old_flows = write(tmp_path / "old", old)
    new_nodes, new_flows = write(tmp_path / "new", new)
    return ["-n", str(new_nodes), "-f", str(new_flows),
            "--old-nodes-definition", str(old_nodes), "--old-flow-definitions", str(old_flows)]


def test_docs_tainted_edge_example_from_files(tmp_path: Path) -> None:
    out = migrate(*files_args(tmp_path, BOTH, ONLY_TASK2), "--migration-dir", str(tmp_path / "m"))
    assert "Migration 1 stored and written to" in out
    content = json.loads((tmp_path / "m" / "1.json").read_text())
    flow = content["migration"]["flow1"]
    assert flow["tainted_edges"] == {"2": {"from": ["Task1"], "to": ["Task3"], "condition_str": {"name": "alwaysTrue"}}}
    assert flow["translation"] == {"2": None}
    assert flow["tainting_nodes"] == {}
    assert content["tainted_flow_strategy"] == "IGNORE" and "_meta" in content
    row = FlowMigrationRecord.objects.get()
    assert row.version == 1 and row.content == content and row.from_revision is None
    # The flow of the documentation's figure: Task1 ran and fired both edges -> tainted.
    state = {"active_nodes": [{"name": "Task2", "id": "b"}, {"name": "Task3", "id": "c"}],
             "finished_nodes": {"Task1": ["a"]}, "failed_nodes": {}, "waiting_edges": [1, 2],
             "triggered_edges": [0, 1, 2]}
    outcome = apply_migrations(state, "flow1", 0, [row.migration()])
    assert outcome.tainted and outcome.new_state["triggered_edges"] == [0, 1]
    # Task1 not seen finished yet: not tainted, and the removed edge no longer waits.
    early = {"active_nodes": [{"name": "Task1", "id": "a"}], "finished_nodes": {}, "failed_nodes": {},
             "waiting_edges": [1, 2], "triggered_edges": [0]}
    outcome = apply_migrations(early, "flow1", 0, [row.migration()])
    assert not outcome.tainted and outcome.new_state["waiting_edges"] == [1]


def test_docs_tainting_nodes_example_between_revisions(tmp_path: Path) -> None:
    migration_dir = tmp_path / "migrations"
    nodes = NODES + f"global:\n  migration_dir: {migration_dir}\n"
    old, _ = load_revision(config(ONLY_TASK2, nodes))
    new, _ = load_revision(config(BOTH, nodes))
    out = migrate("--tainted-flow-strategy", "retry", "--no-meta")
    assert "flow1: 0 tainted edge(s), 1 new edge(s) with tainting nodes" in out
    content = json.loads((migration_dir / "1.json").read_text())
    assert content == {"migration": {"flow1": {"tainted_edges": {}, "tainting_nodes": {"2": ["Task1"]},
                                               "translation": {}}},
                       "tainted_flow_strategy": "RETRY"}
    row = FlowMigrationRecord.objects.get()
    assert (row.from_revision, row.to_revision, row.tainted_flow_strategy) == (old, new, "RETRY")
    finished = {"active_nodes": [{"name": "Task2", "id": "b"}], "finished_nodes": {"Task1": ["a"]},
                "failed_nodes": {}, "waiting_edges": [1], "triggered_edges": [0, 1]}
    outcome = apply_migrations(finished, "flow1", 0, [row.migration()])
    assert outcome.tainted and outcome.strategy is TaintedFlowStrategy.RETRY


def test_nothing_to_migrate_has_its_own_exit_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = files_args(tmp_path, ONLY_TASK2, ONLY_TASK2_CONDITION)  # a condition and a fallback only
    with pytest.raises(CommandError, match="Nothing to migrate") as raised:
        migrate(*args, "--migration-dir", str(tmp_path / "m"))
    assert raised.value.returncode == EXIT_NOTHING_TO_MIGRATE
    # run_from_argv closes every connection when it ends, which would break this test's
    # transaction on PostgreSQL; the exit status is what is tested here.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "selinon_migrate", *args, "--migration-dir", str(tmp_path / "m")])
    assert exited.value.code == EXIT_NOTHING_TO_MIGRATE == 3
    assert not FlowMigrationRecord.objects.exists() and not (tmp_path / "m").exists()


def test_generating_the_same_migration_twice_is_refused(tmp_path: Path) -> None:
    args = [*files_args(tmp_path, BOTH, ONLY_TASK2), "--migration-dir", str(tmp_path / "m")]
    migrate(*args)
    with pytest.raises(CommandError, match="exists already") as raised:
        migrate(*args)
    assert raised.value.returncode == 1
    # The same change from other files (a condition differs) is refused too: it equals the latest one.
    changed_condition = BOTH.replace("to: Task2\n", "to: Task2\n        condition:\n          name: alwaysFalse\n")
    assert changed_condition != BOTH
    other = files_args(tmp_path / "copy", changed_condition, ONLY_TASK2)
    with pytest.raises(CommandError, match="equals the latest"):
        migrate(*other, "--migration-dir", str(tmp_path / "m"), "--tainted-flow-strategy", "FAIL")
    assert FlowMigrationRecord.objects.count() == 1
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["1.json"]


def test_an_existing_selinon_directory_is_continued(tmp_path: Path) -> None:
    directory = tmp_path / "m"
    directory.mkdir()
    selinon_file = {"migration": {"flow1": {"translation": {"1": None}, "tainted_edges": {}, "tainting_nodes": {}}},
                    "tainted_flow_strategy": "FAIL", "_meta": {"user": "someone"}}
    (directory / "1.json").write_text(json.dumps(selinon_file))
    (directory / "README").write_text("not a migration")
    migrate(*files_args(tmp_path, BOTH, ONLY_TASK3), "--migration-dir", str(directory))
    assert sorted(p.name for p in directory.iterdir()) == ["1.json", "2.json", "README"]
    rows = list(FlowMigrationRecord.objects.order_by("version"))
    assert [row.version for row in rows] == [1, 2]
    assert rows[0].tainted_flow_strategy == "FAIL" and rows[0].migration().flows["flow1"].translation == {1: None}
    second = migration_from_json((directory / "2.json").read_text())
    assert set(second.flows["flow1"].tainted_edges) == {1}  # Task1 -> Task2 left


def test_git_history_gives_the_old_files(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    nodes, flows = write(repo, ONLY_TASK2)

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                       capture_output=True)

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "v1")
    flows.write_text(BOTH)
    git("commit", "-q", "-am", "v2")
    out = migrate("-n", str(nodes), "-f", str(repo), "--git", "--migration-dir", str(tmp_path / "m"), "--dry-run")
    assert "flow1: 0 tainted edge(s), 1 new edge(s) with tainting nodes" in out
    assert '"tainting_nodes": {\n        "2": [' in out
    assert not FlowMigrationRecord.objects.exists() and not (tmp_path / "m").exists()
    with pytest.raises(CommandError, match="git"):
        migrate("-n", str(nodes), "-f", str(flows), "--git", "--git-ref", "HEAD~5")


def test_without_a_previous_revision_or_files_there_is_nothing_to_compare() -> None:
    load_revision(config(BOTH))
    with pytest.raises(CommandError, match="no previous revision"):
        migrate()
    with pytest.raises(CommandError, match="need the new files too"):
        migrate("--git")
