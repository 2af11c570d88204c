"""The run store per database (issue 15): one place asks which database the runtime runs on,
the generic store writes at once and refuses what only PostgreSQL's can do, and the runtime's
modules import one another at the top (no function-level import hiding a cycle)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.db import connection

from selinon_django.models import FlowRun, NodeRun
from selinon_django.models.runs import FlowRunStatus
from selinon_django.runtime.store import RunStore, run_store
from selinon_django.runtime.writes import Batch

PACKAGE = Path(__file__).resolve().parents[3] / "selinon_django"


def _sources(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (PACKAGE / folder).rglob("*.py")
                  if "migrations" not in path.parts)


def test_the_store_is_the_databases() -> None:
    store = run_store()
    assert (type(store).__name__ == "PostgresRunStore") == (connection.vendor == "postgresql")
    assert store.combines_writes == store.session_locks == (connection.vendor == "postgresql")
    assert run_store(connection) is store  # one per database


def test_only_the_store_asks_which_database_it_runs_on() -> None:
    asking = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path in _sources(".")
        if path != PACKAGE / "runtime" / "store" / "__init__.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr == "vendor"
    ]
    assert asking == []


def test_the_runtime_imports_its_modules_at_the_top() -> None:
    inside_functions = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path in _sources("runtime", "triggers")
        for function in ast.walk(ast.parse(path.read_text()))
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(function)
        if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("selinon_django"))
        or (isinstance(node, ast.Import) and any(alias.name.startswith("selinon_django") for alias in node.names))
    ]
    assert inside_functions == []


@pytest.mark.django_db
def test_the_generic_store_writes_at_once_and_refuses_a_guard(run_row: FlowRun) -> None:
    batch = Batch(RunStore())
    batch.insert(NodeRun, [NodeRun(id="n1", flow_run_id=run_row.pk, name="A")])
    assert NodeRun.objects.filter(pk="n1").exists()  # before execute: nothing waits
    with pytest.raises(ValueError, match="guarded"):
        batch.update_where(FlowRun, {"state_version": 1}, "id = %s", (run_row.pk,),
                           lambda: FlowRun.objects.filter(pk=run_row.pk), guard=True)
    assert batch.execute() == []
    with pytest.raises(NotImplementedError):
        RunStore().claim({})


@pytest.fixture
def run_row(db: None) -> FlowRun:
    from selinon_django.config import SourceFile, load_config_from_sources
    from selinon_django.revisions import load_revision

    sources = [SourceFile("nodes.yaml", "nodes", "tasks:\n  - {name: A, import: x.y, classname: A}\nflows: [f]\n"),
               SourceFile("flows.yaml", "flows", "flow-definitions:\n  - name: f\n    edges:\n"
                                                  "      - {from: [], to: [A]}\n")]
    revision = load_revision(load_config_from_sources(sources))[0]
    return FlowRun.objects.create(id="r", flow_name="f", revision=revision, status=FlowRunStatus.RUNNING)
