"""selinon_inspect: queues, dump, import checks, summary; files, environment or stored revision."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError

from selinon_django.config import normalise
from selinon_django.revisions import load_revision
from tests.unit.commands.helpers import FIXTURES, FLOWS_DIR, NODES, example_config, fixture_config

pytestmark = pytest.mark.django_db

FILES = ("-n", str(NODES), "-f", str(FLOWS_DIR))


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("selinon_inspect", *args, stdout=out)
    return out.getvalue()


def test_list_task_queues_from_files() -> None:
    assert run(*FILES, "--list-task-queues").splitlines() == [
        "Fetch:celery",
        "Parse:q_parse",
        "Report:celery",
        "Backup:celery",
        "Item:celery",
    ]


def test_list_dispatcher_queues_from_files() -> None:
    assert sorted(run(*FILES, "--list-dispatcher-queues").splitlines()) == ["items:celery", "main:main_dispatcher"]


def test_environment_variables_name_the_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELINON_NODES_DEFINITION", str(NODES))
    monkeypatch.setenv("SELINON_FLOW_DEFINITIONS", str(FLOWS_DIR))
    assert "main:main_dispatcher" in run("--list-dispatcher-queues")


def test_without_files_the_current_revision_is_inspected() -> None:
    load_revision(example_config("docs_flow1"))
    load_revision(fixture_config())
    output = run()
    assert "Configuration from revision 2" in output
    assert "5 tasks, 1 storages, 2 flows" in output
    assert "main: 4 edges, 4 tasks, 1 sub-flows, 2 fallbacks, dispatcher queue main_dispatcher" in output
    assert "Task1:celery" in run("--revision", "1", "--list-task-queues")


def test_without_files_and_without_revision() -> None:
    with pytest.raises(CommandError, match="no configuration revision is loaded yet"):
        run("--list-task-queues")


def test_unknown_revision() -> None:
    load_revision(fixture_config())
    with pytest.raises(CommandError, match="configuration revision 5 does not exist"):
        run("--revision", "5")


def test_revision_and_files_together_are_refused() -> None:
    with pytest.raises(CommandError, match="--revision cannot be combined with -n/-f"):
        run(*FILES, "--revision", "1")


@pytest.mark.parametrize(
    ("number", "message"),
    [("0", "0 is out of range"), ("²", "is not a whole number"), ("9" * 5000, "is not a whole number"),
     ("18446744073709551616", "out of range"), ("2147483648", "out of range")],
)
def test_bad_revision_number(number: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("--revision", number)


def test_dump_to_file(tmp_path: Path) -> None:
    target = tmp_path / "dump.json"
    run(*FILES, "--dump", str(target))
    assert json.loads(target.read_text()) == json.loads(json.dumps(normalise(fixture_config())))


def test_dump_to_stdout() -> None:
    assert json.loads(run(*FILES, "--dump", "-")) == json.loads(json.dumps(normalise(fixture_config())))


def test_dump_into_a_missing_directory_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="does not exist"):
        run(*FILES, "--dump", str(tmp_path / "nowhere" / "dump.json"))
    assert not (tmp_path / "nowhere").exists()


def test_check_imports_passes() -> None:
    assert "Every import of the configuration succeeded." in run(*FILES, "--check-imports")


def test_check_imports_reports_what_fails() -> None:
    nodes, flows = FIXTURES / "missing_imports_nodes.yaml", FIXTURES / "missing_imports_flows.yaml"
    with pytest.raises(CommandError, match="1 import failed") as caught:
        run("-n", str(nodes), "-f", str(flows), "--check-imports")
    assert "tasks[0].import" in str(caught.value)
    assert "no_such_module_anywhere" in str(caught.value)


def test_invalid_files_are_reported() -> None:
    with pytest.raises(CommandError, match=r"bad_nodes.yaml: tasks\[0\]: unknown key 'unknown_key'"):
        run("-n", str(FIXTURES / "bad_nodes.yaml"), "-f", str(FLOWS_DIR))


def test_help_documents_every_option() -> None:
    command = load_command_class("selinon_django", "selinon_inspect")
    text = command.create_parser("manage.py", "selinon_inspect").format_help()
    for option in (
        "--nodes-definition",
        "--flow-definitions",
        "--revision",
        "--list-task-queues",
        "--list-dispatcher-queues",
        "--dump",
        "--check-imports",
    ):
        assert option in text


def test_dump_of_the_current_revision_is_what_it_stores() -> None:
    revision, _ = load_revision(fixture_config())
    assert json.loads(run("--dump", "-")) == revision.normalised
