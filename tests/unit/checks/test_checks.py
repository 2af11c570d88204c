"""One test per system check id, plus: the demo settings pass, and the checks are registered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from selinon_django.checks import check_environment, check_settings
from selinon_django.conf import selinon_settings


def ids(setting: Any, **other_settings: Any) -> list[str]:
    with override_settings(SELINON_DJANGO=setting, **other_settings):
        return [m.id or "" for m in (*check_settings(), *check_environment())]


def messages(setting: Any) -> list[checks.CheckMessage]:
    with override_settings(SELINON_DJANGO=setting):
        return [*check_settings(), *check_environment()]


def test_demo_settings_pass() -> None:
    assert [m for m in (*check_settings(), *check_environment()) if m.level >= checks.ERROR] == []


def test_e001_not_a_dict() -> None:
    assert ids(["IMPORT_PREFIXES"]) == ["selinon_django.E001"]


def test_e002_unknown_key_suggests_the_closest() -> None:
    (message,) = messages({"IMPORT_PREFIX": ["x."]})
    assert message.id == "selinon_django.E002"
    assert "'IMPORT_PREFIX'" in message.msg
    assert message.hint == "Did you mean 'IMPORT_PREFIXES'?"


def test_e002_without_a_close_key_lists_the_keys() -> None:
    (message,) = messages({"ZZZ": 1})
    assert message.hint is not None and "GRAPHS_ENABLED" in message.hint


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("GRAPHS_ENABLED", "yes"),
        ("MAX_NODE_ARGS_BYTES", True),
        ("MAX_NODE_ARGS_BYTES", "10"),
        ("NODES_DEFINITION", 3),
        ("FLOW_DEFINITIONS", [1]),
        ("MIGRATION_POLICY", "pin"),
        ("IMPORT_PREFIXES", 5),
        ("STRICT_IMPORTS", 1),
        ("GRAPH_STYLE", ["task"]),
        ("CELERY_APP", 1),
        ("DOT_PROGRAM", 1),
        ("START_INLINE", "no"),
        ("INLINE_STEPS", 0),
        ("TRACE_DATABASE", "1"),
        ("INLINE_STEP_MAX_ACTIVE", 2.5),
        ("LOST_TASK_RETRIES", "1"),
        ("SWEEP_INTERVAL", "2"),
        ("SWEEP_GRACE", -1),
        ("LOST_TASK_AFTER", None),
        ("COUNTDOWN_MESSAGE_LIMIT", True),
    ],
)
def test_e003_wrong_type(key: str, value: Any) -> None:
    found = messages({key: value})
    assert [m.id for m in found if m.id and m.id.startswith("selinon_django.E")] == ["selinon_django.E003"]
    assert key in found[0].msg


def test_e004_import_prefixes_entries() -> None:
    found = [m for m in messages({"IMPORT_PREFIXES": ["ok.", "", 3, "  "]}) if m.id == "selinon_django.E004"]
    assert [m.msg.split(" must")[0] for m in found] == [
        "SELINON_DJANGO['IMPORT_PREFIXES'][1]",
        "SELINON_DJANGO['IMPORT_PREFIXES'][2]",
        "SELINON_DJANGO['IMPORT_PREFIXES'][3]",
    ]


def test_e005_migration_policy_values() -> None:
    assert ids({"MIGRATION_POLICY": {"*": "pin", "flow1": "migrate"}}) == []
    found = [m for m in messages({"MIGRATION_POLICY": {"*": "freeze", "flow1": "migrate"}}) if m.level >= checks.ERROR]
    assert [m.id for m in found] == ["selinon_django.E005"]
    assert "'freeze'" in found[0].msg


def test_e006_dot_missing_when_graphs_enabled(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-dot")
    assert "selinon_django.E006" in ids({"DOT_PROGRAM": missing})
    assert "selinon_django.E006" not in ids({"DOT_PROGRAM": missing, "GRAPHS_ENABLED": False})
    assert "selinon_django.E006" not in ids({})  # /usr/bin/dot is installed


def test_e007_max_node_args_bytes_positive() -> None:
    assert ids({"MAX_NODE_ARGS_BYTES": 0}) == ["selinon_django.E007"]
    assert ids({"MAX_NODE_ARGS_BYTES": 10}) == []


def test_e008_graph_style(tmp_path: Path) -> None:
    assert ids({"GRAPH_STYLE": {"nodes": {}}}) == ["selinon_django.E008"]
    assert ids({"GRAPH_STYLE": str(tmp_path / "missing.yaml")}) == ["selinon_django.E008"]
    assert ids({"GRAPH_STYLE": {"task": {"color": "red"}}}) == []


def test_w001_no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    assert ids({}, CELERY_BROKER_URL=None) == ["selinon_django.W001"]
    assert ids({}, CELERY_BROKER_URL="redis://localhost:6379/0") == []
    monkeypatch.setenv("CELERY_BROKER_URL", "memory://")
    assert ids({}, CELERY_BROKER_URL=None) == []


def test_w002_nodes_definition_missing(tmp_path: Path) -> None:
    assert ids({"NODES_DEFINITION": str(tmp_path / "nodes.yaml")}) == ["selinon_django.W002"]
    (tmp_path / "nodes.yaml").write_text("tasks: []\n")
    assert ids({"NODES_DEFINITION": str(tmp_path / "nodes.yaml")}) == []
    assert ids({"NODES_DEFINITION": tmp_path / "nodes.yaml"}) == []  # a Path is fine too


def test_w003_flow_definitions_missing(tmp_path: Path) -> None:
    assert ids({"FLOW_DEFINITIONS": [str(tmp_path), str(tmp_path / "nope")]}) == ["selinon_django.W003"]
    assert ids({"FLOW_DEFINITIONS": f"{tmp_path}:{tmp_path / 'nope'}"}) == ["selinon_django.W003"]


def test_w004_celery_release_that_stops_workers_on_broker_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    import celery

    assert ids({}) == []  # the pinned release
    monkeypatch.setattr(celery, "__version__", "5.7.0")
    (message,) = messages({})
    assert message.id == "selinon_django.W004"
    assert "Celery 5.7.0" in message.msg
    monkeypatch.setattr(celery, "__version__", "5.6.3")
    assert ids({}) == []


def test_checks_run_with_manage_py_check() -> None:
    with override_settings(SELINON_DJANGO={"GRAPHS_ENABLED": "yes"}), pytest.raises(SystemCheckError, match="E003"):
        call_command("check")


def test_accessor_follows_override_settings() -> None:
    with override_settings(SELINON_DJANGO={"FLOW_DEFINITIONS": "a:b", "IMPORT_PREFIXES": ["x."]}):
        conf = selinon_settings()
        assert conf.FLOW_DEFINITIONS == ("a", "b")
        assert conf.IMPORT_PREFIXES == ("x.",)
        assert conf.GRAPHS_ENABLED is True
    assert selinon_settings().IMPORT_PREFIXES != ("x.",)


def test_e009_max_json_depth_within_the_stack_budget() -> None:
    assert ids({"MAX_JSON_DEPTH": 0}) == ["selinon_django.E009"]
    assert ids({"MAX_JSON_DEPTH": 100_000}) == ["selinon_django.E009"]
    assert ids({"MAX_JSON_DEPTH": "64"}) == ["selinon_django.E003"]
    assert ids({"MAX_JSON_DEPTH": 1}) == []
    assert ids({"MAX_JSON_DEPTH": 500}) == []
