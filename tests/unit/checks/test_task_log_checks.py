"""The task-log and workers-page settings: wrong types are E003, values out of range E011, an
unknown level name E012; good values pass and are what the runtime reads."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from selinon_django.checks import check_settings
from selinon_django.conf import selinon_settings


def ids(setting: Any) -> list[str]:
    with override_settings(SELINON_DJANGO=setting):
        return [m.id or "" for m in check_settings()]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("TASK_LOGS", "yes"),
        ("TASK_LOG_LEVEL", 20),
        ("TASK_LOG_MAX_BYTES", "1000"),
        ("TASK_LOG_MAX_BYTES", 1.5),
        ("TASK_LOG_FLUSH_SECONDS", None),
        ("WORKERS_INSPECT_TIMEOUT", "1"),
    ],
)
def test_e003_wrong_types(key: str, value: Any) -> None:
    assert ids({key: value}) == ["selinon_django.E003"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("TASK_LOG_MAX_BYTES", 0),
        ("TASK_LOG_MAX_BYTES", 1023),
        ("TASK_LOG_MAX_BYTES", 64 * 1024 * 1024 + 1),
        ("TASK_LOG_FLUSH_SECONDS", 0),
        ("TASK_LOG_FLUSH_SECONDS", 61),
        ("WORKERS_INSPECT_TIMEOUT", 0.01),
        ("WORKERS_INSPECT_TIMEOUT", 31),
    ],
)
def test_e011_out_of_range(key: str, value: Any) -> None:
    with override_settings(SELINON_DJANGO={key: value}):
        messages = check_settings()
    assert [m.id for m in messages] == ["selinon_django.E011"]
    assert key in messages[0].msg and messages[0].hint


@pytest.mark.parametrize("level", ["LOUD", "", "info level"])
def test_e012_unknown_level_name(level: str) -> None:
    assert ids({"TASK_LOG_LEVEL": level}) == ["selinon_django.E012"]


def test_good_values_pass_and_are_read() -> None:
    setting = {"TASK_LOGS": False, "TASK_LOG_LEVEL": "warning", "TASK_LOG_MAX_BYTES": 1024,
               "TASK_LOG_FLUSH_SECONDS": 0.5, "WORKERS_INSPECT_TIMEOUT": 2}
    assert ids(setting) == []
    with override_settings(SELINON_DJANGO=setting):
        conf = selinon_settings()
        assert (conf.TASK_LOGS, conf.TASK_LOG_LEVEL, conf.TASK_LOG_MAX_BYTES, conf.TASK_LOG_FLUSH_SECONDS,
                conf.WORKERS_INSPECT_TIMEOUT) == (False, "warning", 1024, 0.5, 2)


def test_defaults_keep_logs_bounded() -> None:
    with override_settings(SELINON_DJANGO={}):
        conf = selinon_settings()
    assert conf.TASK_LOGS and conf.TASK_LOG_LEVEL == "INFO"
    assert 1024 <= conf.TASK_LOG_MAX_BYTES <= 1024 * 1024
    assert 0.1 <= conf.TASK_LOG_FLUSH_SECONDS <= 5 and 0.1 <= conf.WORKERS_INSPECT_TIMEOUT <= 5
