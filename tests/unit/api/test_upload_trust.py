"""Uploaded configuration is untrusted input (issue 13): tried as an attacker with the upload
permission (not a superuser) would, through ``POST /api/revisions/``."""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from rest_framework.test import APIClient

from selinon_django.config import ConfigurationError, load_config
from selinon_django.config.model import thaw
from selinon_django.config.validation import load_schema
from selinon_django.models import ConfigRevision, FlowRun
from selinon_django.models.definitions import clear_system_config_cache
from selinon_django.revisions import load_revision
from tests.unit.api import predicate_probe

pytestmark = pytest.mark.django_db

REVISIONS = "/api/revisions/"
SETTINGS = {"IMPORT_PREFIXES": ["demo_project.", "tests.unit.api.predicate_probe"]}

BASE = """\
tasks:
  - {name: T, import: demo_project.tasks.never_imported, classname: T%(task_extra)s}
storages:
  - {name: S, import: selinon_django.storages.memory, classname: InMemoryStorage%(storage_extra)s}
flows: [f]
global: {%(global_extra)s}
flow-definitions:
  - name: f
    edges:
      - {from: , to: T%(edge_extra)s}
%(tail)s"""


def yaml(task_extra: str = "", storage_extra: str = "", global_extra: str = "", edge_extra: str = "",
         tail: str = "") -> str:
    return BASE % {"task_extra": task_extra, "storage_extra": storage_extra, "global_extra": global_extra,
                   "edge_extra": edge_extra, "tail": tail}


def post(api: APIClient, text: str, *extra_files: dict[str, str], **settings: Any) -> Any:
    body = {"files": [{"path": "nodes.yaml", "role": "nodes", "text": text}, *extra_files]}
    with override_settings(SELINON_DJANGO={**SETTINGS, **settings}):
        return api.post(REVISIONS, body, format="json")


def refused(response: Any) -> list[str]:
    assert response.status_code == 400, response.content
    assert ConfigRevision.objects.count() == 0  # nothing half-written
    return [f"{e['path']}: {e['message']}" for e in response.json()["errors"]]


@pytest.fixture
def uploader(make_user: Callable[..., User], client_for: Callable[[User | None], APIClient]) -> APIClient:
    return client_for(make_user("view_configrevision", "add_configrevision", username="uploader"))


# --- 1. a predicate must be a predicate ---------------------------------------------------------


@pytest.mark.parametrize("module", ["selinon_django.triggers", "selinon_django.runtime.api", "os"])
def test_any_module_as_predicates_module_is_refused(uploader: APIClient, module: str) -> None:
    text = yaml(global_extra=f"predicates_module: {module}",
                edge_extra=", condition: {name: import_module, args: {name: this}}")
    assert any("global.predicates_module" in m for m in refused(post(uploader, text)))


def _predicates_called(condition: str, make_user: Callable[..., User],
                       client_for: Callable[[User | None], APIClient]) -> list[str]:
    """Upload a flow whose starting edge has ``condition`` (predicates of predicate_probe), start
    it over REST (its first step runs in this process) and return the predicates called."""
    text = yaml(global_extra="predicates_module: tests.unit.api.predicate_probe",
                edge_extra=f", condition: {condition}")
    uploader = client_for(make_user("view_configrevision", "add_configrevision", "add_flowrun", "view_flowrun"))
    assert post(uploader, text).status_code == 201
    predicate_probe.CALLS.clear()
    with override_settings(SELINON_DJANGO=SETTINGS):
        response = uploader.post("/api/runs/", {"flow_name": "f", "node_args": {}}, format="json")
    assert response.status_code in (201, 202), response.content
    return list(predicate_probe.CALLS)


def test_undeclared_function_of_an_allowed_module_is_never_called(
    make_user: Callable[..., User], client_for: Callable[[User | None], APIClient]
) -> None:
    """Even a configuration the server accepted cannot make a condition call a function that is
    not declared a predicate: the first step runs in the web process that starts the run."""
    assert _predicates_called("{name: sneaky}", make_user, client_for) == []


def test_declared_predicates_are_called(
    make_user: Callable[..., User], client_for: Callable[[User | None], APIClient]
) -> None:
    called = _predicates_called("{or: [{name: declared}, {name: listed}]}", make_user, client_for)
    assert called == ["declared", "listed"]


# --- 2. every importable name goes through one check ------------------------------------------

#: one refused use of every key of the format that names Python code, by where the JSON Schema
#: defines it: a new such key makes test_the_table_covers_every_import_key_of_the_schema fail
EVIL = "evil_module_xyz"
IMPORT_KEYS: dict[str, dict[str, str]] = {
    "task.import": {"task_extra": f", import: {EVIL}"},
    "task.selective_run_function.import": {"task_extra": f", selective_run_function: {{name: f, import: {EVIL}}}"},
    "storage.import": {"storage_extra": f", import: {EVIL}"},
    "cache.import": {"storage_extra": f", cache: {{name: LRU, import: {EVIL}}}"},
    "traceEntry.function.import": {"global_extra": f"trace: [{{function: {{name: f, import: {EVIL}}}}}]"},
    "foreach.import": {"edge_extra": f", foreach: {{function: f, import: {EVIL}}}"},
    "sampling.import": {"tail": f"    sampling: {{name: s, import: {EVIL}}}\n"},
    "triggerTask.run": {"tail": f"triggers:\n  t: {{after: [go], run: {EVIL}.Nothing}}\n"},
    "global.predicates_module": {"global_extra": f"predicates_module: {EVIL}"},
}


def _schema_import_keys() -> set[str]:
    found: set[str] = set()

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in (node.get("properties") or {}).items():
                if key in ("import", "run", "predicates_module"):
                    found.add(f"{where}.{key}".lstrip("."))
                walk(value, f"{where}.{key}" if where else key)
            for key, value in node.items():
                if key == "$defs":
                    for name, definition in value.items():
                        walk(definition, name)
                elif key != "properties":
                    walk(value, where)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    walk(load_schema(), "")
    return {key.replace("properties.", "") for key in found}


def test_the_table_covers_every_import_key_of_the_schema() -> None:
    keys = _schema_import_keys()
    normalised = {k.split(".", 1)[1] if k.startswith("global.") and k.count(".") > 1 else k for k in keys}
    assert {k for k in normalised if not k.startswith("global")} <= set(IMPORT_KEYS), normalised
    assert set(IMPORT_KEYS) - {"global.predicates_module"} <= normalised


@pytest.mark.parametrize("key", sorted(IMPORT_KEYS))
def test_every_importable_name_is_checked(uploader: APIClient, key: str) -> None:
    messages = refused(post(uploader, yaml(**IMPORT_KEYS[key])))
    assert any(EVIL in m and "not allowed" in m for m in messages), messages


@pytest.mark.parametrize("target", ["selinon_django.runtime.api.cancel_flow", "selinon_django.triggers.import_module"])
def test_the_apps_own_modules_are_not_user_code(uploader: APIClient, target: str) -> None:
    module, _, name = target.rpartition(".")
    text = yaml(task_extra=f", import: {module}").replace("classname: T", f"classname: {name}")
    messages = refused(post(uploader, text))
    assert any("module of selinon_django itself" in m for m in messages), messages


def test_a_storage_that_writes_elsewhere_needs_the_settings(uploader: APIClient) -> None:
    text = yaml().replace("selinon_django.storages.memory, classname: InMemoryStorage",
                          "selinon_django.storages.filesystem, classname: FilesystemStorage")
    assert any("must name it" in m for m in refused(post(uploader, text)))
    allowed = {"IMPORT_PREFIXES": [*SETTINGS["IMPORT_PREFIXES"], "selinon_django.storages.filesystem"]}
    assert post(uploader, text, **allowed).status_code == 201


# --- 4. the server's environment ---------------------------------------------------------------


def test_uploaded_yaml_cannot_read_the_environment(uploader: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_FOR_TEST", "hunter2")
    messages = refused(post(uploader, yaml(task_extra=", queue: 'leak_{SECRET_FOR_TEST}'")))
    assert any("'SECRET_FOR_TEST'" in m and "UPLOAD_ENVIRONMENT" in m for m in messages), messages
    assert not any("hunter2" in m for m in messages)


def test_variables_the_settings_list_are_expanded(uploader: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOY_PREFIX", "staging")
    monkeypatch.setenv("SECRET_FOR_TEST", "hunter2")
    text = yaml(task_extra=", queue: '{DEPLOY_PREFIX}_tasks'",
                storage_extra=", configuration: {a: '{DEPLOY_PREFIX}', b: '{SECRET_FOR_TEST}', c: '^\\d{3}-{name}$'}")
    response = post(uploader, text, UPLOAD_ENVIRONMENT=["DEPLOY_PREFIX"])
    assert response.status_code == 201, response.content
    clear_system_config_cache()
    with override_settings(SELINON_DJANGO={**SETTINGS, "UPLOAD_ENVIRONMENT": ["DEPLOY_PREFIX"]}):
        config = ConfigRevision.objects.get().system_config()  # as a worker rebuilds it
    assert ConfigRevision.objects.get().origin == "upload"
    assert config.tasks["T"].queue == "staging_tasks"
    # a variable the settings do not list stays a placeholder, also on the worker
    expected = {"a": "staging", "b": "{SECRET_FOR_TEST}", "c": "^\\d{3}-{name}$"}
    assert dict(config.storages["S"].configuration) == expected


def test_a_command_load_reads_the_environment_and_keeps_unset_storage_variables(tmp_path: Path) -> None:
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(yaml(storage_extra=", configuration: {host: '{HOME}', key: '{NOT_SET_HERE_XYZ}'}"))
    config = load_config([nodes], [])
    assert dict(config.storages["S"].configuration) == {"host": os.environ["HOME"], "key": "{NOT_SET_HERE_XYZ}"}


def test_uploads_cannot_point_migrations_or_sentry_elsewhere(uploader: APIClient) -> None:
    messages = refused(post(uploader, yaml(global_extra="migration_dir: /etc/cron.d")))
    assert any("migration_dir" in m for m in messages)
    messages = refused(post(uploader, yaml(global_extra="trace: [{sentry: {dsn: 'https://k@evil.example/1'}}]")))
    assert any("Sentry DSN" in m for m in messages)


# --- 5. output_schema files ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/etc/passwd", "../../../etc/passwd", "/dev/zero"])
def test_an_upload_reads_no_schema_file_from_disk(uploader: APIClient, path: str) -> None:
    messages = refused(post(uploader, yaml(task_extra=f", output_schema: '{path}'")))
    assert any("not uploaded with the configuration" in m for m in messages), messages


def test_schemas_come_with_the_upload_and_are_stored(uploader: APIClient) -> None:
    schema = {"type": "object", "required": ["n"]}
    text = yaml(task_extra=", output_schema: schemas/out.json")
    response = post(uploader, text, {"path": "out.json", "role": "schema", "text": json.dumps(schema)})
    assert response.status_code == 201, response.content
    assert thaw(ConfigRevision.objects.get().system_config().tasks["T"].output_schema_document) == schema


@pytest.mark.parametrize(("text", "problem"), [
    ('{"type": 12}', "not a valid JSON Schema"),
    ("[1, 2]", "not a JSON Schema"),
    ("not json", "not JSON"),
    ('{"description": "' + "x" * 1_100_000 + '"}', "larger than"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
], ids=["invalid", "array", "not-json", "big", "deep"])
def test_bad_schema_files_are_refused(uploader: APIClient, text: str, problem: str) -> None:
    response = post(uploader, yaml(task_extra=", output_schema: s.json"), {"path": "s.json", "role": "schema",
                                                                          "text": text})
    assert response.status_code == 400
    assert problem in json.dumps(response.json()), response.json()
    assert ConfigRevision.objects.count() == 0


def test_a_command_reads_schemas_only_inside_the_configuration_directory(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    (tmp_path / "secret.json").write_text('{"type": "object"}')
    (folder / "zero.json").symlink_to("/dev/zero")
    os.mkfifo(folder / "pipe.json")
    (folder / "big.json").write_text(" " * 2_000_000 + "{}")
    for path, problem in [("../secret.json", "outside"), ("/etc/passwd", "outside"), ("zero.json", "outside"),
                          ("pipe.json", "not a regular file"), ("big.json", "larger than")]:
        nodes = folder / "nodes.yaml"
        nodes.write_text(yaml(task_extra=f", output_schema: '{path}'"))
        with pytest.raises(ConfigurationError, match=problem):
            load_config([nodes], [])


# --- 6, 7. YAML bombs and deep nesting ----------------------------------------------------------


def test_an_alias_bomb_is_refused(uploader: APIClient) -> None:
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
    previous = "a"
    for name in "bcdefgh":
        bomb += f"{name}: &{name} [" + ",".join([f"*{previous}"] * 10) + "]\n"
        previous = name
    messages = refused(post(uploader, bomb + "tasks: *h\n"))
    assert any("expands to more than" in m for m in messages)


@pytest.mark.parametrize("text", ["tasks: " + "[" * 1000 + "]" * 1000, "tasks:\n" + "".join(
    "  " * depth + "- \n" for depth in range(1, 1000))], ids=["flow-style", "block-style"])
def test_deep_yaml_is_refused(uploader: APIClient, text: str) -> None:
    messages = refused(post(uploader, text))
    assert any("nesting deeper than" in m for m in messages)


@pytest.mark.parametrize("value", ['"a\\0b"', '"a\\ud800b"'])
def test_strings_postgresql_cannot_store_are_refused(uploader: APIClient, value: str) -> None:
    messages = refused(post(uploader, yaml(task_extra=f", queue: {value}")))
    assert any("NUL" in m or "surrogate" in m for m in messages)


@pytest.mark.parametrize(("extra", "problem"), [
    (", max_retry: 99999999999999999999", "must be <= 2147483647"),
    (", max_retry: 2147483648", "must be <= 2147483647"),
    (", retry_countdown: .inf", "not finite"),
    (", time_limit: .nan", "not finite"),
    (", retry_countdown: 99999999999", "must be <= 1000000000"),
    (", throttling: {weeks: 1000000000, days: 1000000000}", "longer than 1000000000 seconds"),
    (", classname: T, storage: S, max_retry: 1" + "0" * 5000, "more than 30 characters"),
], ids=["int-huge", "int-32bit", "inf", "nan", "countdown", "throttling", "int-5000-digits"])
def test_numbers_the_database_cannot_hold_are_refused(uploader: APIClient, extra: str, problem: str) -> None:
    messages = refused(post(uploader, yaml(task_extra=extra)))
    assert any(problem in m for m in messages), messages


# --- 11. queue names ---------------------------------------------------------------------------


@pytest.mark.parametrize("queue", ["/tmp/pwned", "../up", "a b", "x\\ny", "-flag"])
def test_queue_names_are_checked(uploader: APIClient, queue: str) -> None:
    messages = refused(post(uploader, yaml(task_extra=f", queue: {json.dumps(queue)}")))
    assert any("queue name" in m for m in messages), messages


def test_a_good_upload_still_works_and_runs_nothing(uploader: APIClient) -> None:
    assert post(uploader, yaml(task_extra=", queue: 'tasks.v1:high'")).status_code == 201
    assert FlowRun.objects.count() == 0


def test_same_content_loaded_by_a_command_after_an_upload_is_a_new_trusted_revision(uploader: APIClient,
                                                                                     tmp_path: Path) -> None:
    text = yaml()
    assert post(uploader, text).status_code == 201
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(text)
    revision, created = load_revision(load_config([nodes], []))
    assert created and revision.origin == "command"
    again = post(uploader, text)
    assert again.status_code == 200 and ConfigRevision.objects.count() == 2


@pytest.mark.parametrize(("name", "problem"), [
    ("x" * 300, "1 to 255 characters"),
    ("a\\nb", "control characters"),
    ("a\\tb", "control characters"),
], ids=["long", "newline", "tab"])
def test_names_the_database_cannot_hold_are_refused(uploader: APIClient, name: str, problem: str) -> None:
    text = yaml().replace("flows: [f]", f'flows: ["{name}"]').replace("  - name: f\n", f'  - name: "{name}"\n')
    messages = refused(post(uploader, text))
    assert any(problem in m for m in messages), messages
