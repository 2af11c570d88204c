"""The monitoring switches' checks: their types (E003) and Prometheus' multiprocess directory
(W011). E013 and E014 (a switch on without its package) are in
tests/unit/observability/test_optional_packages.py, in an interpreter without the packages."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from selinon_django.checks import check_environment, check_settings


def ids(**monitoring: Any) -> list[str]:
    with override_settings(SELINON_DJANGO={**settings.SELINON_DJANGO, **monitoring}):
        return [m.id or "" for m in (*check_settings(), *check_environment())]


@pytest.mark.parametrize("key", ["OPENTELEMETRY", "PROMETHEUS"])
def test_e003_switches_are_booleans(key: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert ids(**{key: "yes"}) == ["selinon_django.E003"]


def test_w011_prometheus_without_a_multiprocess_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert ids(PROMETHEUS=True) == ["selinon_django.W011"]
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    assert ids(PROMETHEUS=True) == ["selinon_django.W011"]
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert ids(PROMETHEUS=True) == []


def test_the_switches_installed_and_on_pass(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert ids(OPENTELEMETRY=True, PROMETHEUS=True) == []
