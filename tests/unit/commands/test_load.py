"""selinon_load: options, environment and settings fallbacks, refusals that write nothing."""

from __future__ import annotations

import getpass
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from django.test import override_settings

from selinon_django.config import content_hash
from selinon_django.models import ConfigRevision
from tests.conftest import REPO
from tests.unit.commands.helpers import (
    FIXTURES,
    FLOWS_DIR,
    ITEMS_FLOW,
    MAIN_FLOW,
    NODES,
    example_paths,
    fixture_config,
    row_counts,
)

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("selinon_load", *args, stdout=out)
    return out.getvalue()


def test_load_creates_revision_and_prints_number_and_hash() -> None:
    output = run("-n", str(NODES), "-f", str(FLOWS_DIR), "--comment", "initial")
    revision = ConfigRevision.objects.get()
    assert revision.content_hash == content_hash(fixture_config())
    assert f"Created revision 1 (hash {revision.content_hash})" in output
    assert "5 tasks, 1 storages, 2 flows" in output
    assert revision.comment == "initial"
    assert revision.created_by_name == getpass.getuser()


def test_loading_the_same_content_again_creates_nothing() -> None:
    run("-n", str(NODES), "-f", str(FLOWS_DIR))
    before = row_counts()
    # the same content, given as two files instead of a directory
    output = run("-n", str(NODES), "-f", str(MAIN_FLOW), "-f", str(ITEMS_FLOW))
    assert "equals the current revision 1" in output
    assert "nothing was created" in output
    assert row_counts() == before


def test_dry_run_writes_nothing() -> None:
    before = row_counts()
    output = run("-n", str(NODES), "-f", str(FLOWS_DIR), "--dry-run")
    assert "Dry run" in output
    assert "would be stored as revision 1" in output
    assert row_counts() == before


def test_environment_variables_name_the_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELINON_NODES_DEFINITION", str(NODES))
    monkeypatch.setenv("SELINON_FLOW_DEFINITIONS", f"{MAIN_FLOW}:{ITEMS_FLOW}")
    output = run()
    assert "Created revision 1" in output
    assert ConfigRevision.objects.get().content_hash == content_hash(fixture_config())


def test_options_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELINON_NODES_DEFINITION", "/nowhere/nodes.yaml")
    monkeypatch.setenv("SELINON_FLOW_DEFINITIONS", "/nowhere/flows")
    nodes, flows = example_paths("docs_flow1")
    run("-n", str(nodes), "-f", str(flows))
    assert set(ConfigRevision.objects.get().system_config().flows) == {"flow1", "flow2"}


def test_settings_name_the_files_when_nothing_else_does() -> None:
    with override_settings(SELINON_DJANGO={"NODES_DEFINITION": str(NODES), "FLOW_DEFINITIONS": [str(FLOWS_DIR)]}):
        output = run()
    assert "Created revision 1" in output


def refused(*args: str, match: str) -> str:
    before = row_counts()
    with pytest.raises(CommandError, match=match) as caught:
        call_command("selinon_load", *args, stdout=io.StringIO())
    assert row_counts() == before
    return str(caught.value)


def test_missing_nodes_file() -> None:
    refused(
        "-n", "/nowhere/nodes.yaml", "-f", str(FLOWS_DIR), match="/nowhere/nodes.yaml: nodes definition file not found"
    )


def test_missing_flow_file() -> None:
    refused(
        "-n", str(NODES), "-f", "/nowhere/flows", match="/nowhere/flows: flow definitions file or directory not found"
    )


def test_nodes_without_flows_is_never_completed_from_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """-n alone reads that file alone (it may hold flow-definitions itself)."""
    monkeypatch.setenv("SELINON_FLOW_DEFINITIONS", str(FLOWS_DIR))
    with override_settings(SELINON_DJANGO={"FLOW_DEFINITIONS": [str(FLOWS_DIR)]}):
        refused("-n", str(NODES), match="flow 'main' is listed under 'flows' but has no definition")


def test_one_file_with_everything(tmp_path: Path) -> None:
    nodes, flows = example_paths("docs_flow1")
    combined = tmp_path / "combined.yaml"
    combined.write_text(nodes.read_text() + flows.read_text())
    assert "Created revision 1" in run("-n", str(combined))


def test_flows_without_nodes() -> None:
    refused("-f", str(FLOWS_DIR), match=r"flow definitions were given \(options\) but no nodes definition")


def test_environment_flows_without_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELINON_FLOW_DEFINITIONS", str(FLOWS_DIR))
    refused(match="set \\$SELINON_NODES_DEFINITION")


def test_no_files_at_all() -> None:
    with override_settings(SELINON_DJANGO={}):
        refused(match="no definition files")


def test_invalid_configuration_lists_file_key_path_and_message() -> None:
    message = refused("-n", str(FIXTURES / "bad_nodes.yaml"), "-f", str(MAIN_FLOW), match="invalid configuration")
    assert f"{FIXTURES / 'bad_nodes.yaml'}: tasks[0]: unknown key 'unknown_key'" in message


def test_missing_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIXTURE_QUEUE_PREFIX")
    message = refused("-n", str(NODES), "-f", str(FLOWS_DIR), match="FIXTURE_QUEUE_PREFIX")
    assert "tasks[1].queue" in message


def test_strict_imports_refuse_modules_outside_the_prefixes() -> None:
    settings = {"STRICT_IMPORTS": True, "IMPORT_PREFIXES": ["demo_project."]}
    with override_settings(SELINON_DJANGO=settings):
        message = refused("-n", str(NODES), "-f", str(FLOWS_DIR), match="invalid configuration")
    assert "example_tasks" in message


def test_help_documents_every_option() -> None:
    command = load_command_class("selinon_django", "selinon_load")
    text = command.create_parser("manage.py", "selinon_load").format_help()
    for option in ("--nodes-definition", "--flow-definitions", "--dry-run", "--comment", "SELINON_NODES_DEFINITION"):
        assert option in text


def test_refusal_exits_non_zero_with_the_issue_on_stderr(tmp_path: Path) -> None:
    env = {**os.environ, "SELINON_DJANGO_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "demo_project.settings"}
    completed = subprocess.run(
        [
            sys.executable,
            str(REPO / "manage.py"),
            "selinon_load",
            "-n",
            str(FIXTURES / "bad_nodes.yaml"),
            "-f",
            str(MAIN_FLOW),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
    )
    assert completed.returncode != 0
    assert "tasks[0]: unknown key 'unknown_key'" in completed.stderr
    assert completed.stdout == ""
