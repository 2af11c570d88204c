"""engine/testing.py (FakePorts) is for tests: no module of the app imports it. The in-process
executor builds on engine/simulation.py instead."""
from __future__ import annotations

import ast
from pathlib import Path

import selinon_django
from selinon_django.engine.simulation import Simulator
from selinon_django.runtime.inprocess import ExecutorPorts, InProcessExecutor

PACKAGE = Path(selinon_django.__file__).resolve().parent
TESTING = "selinon_django.engine.testing"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_module_of_the_app_imports_the_test_ports() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "engine" / "testing.py" and TESTING in _imports(path)
    ]
    assert offenders == []


def test_the_in_process_executor_is_the_engine_simulator_on_real_ports() -> None:
    assert issubclass(InProcessExecutor, Simulator)
    assert "FakePorts" not in {cls.__name__ for cls in ExecutorPorts.__mro__}
