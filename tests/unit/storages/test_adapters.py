"""The in-memory, filesystem and Django-database adapters share one behaviour contract."""
from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from selinon_django.storages.base import DataStorage, SelinonMissingDataException, exception_from_record
from selinon_django.storages.django_db import DjangoStorage
from selinon_django.storages.filesystem import Filesystem, FilesystemStorage
from selinon_django.storages.memory import InMemoryStorage


def exc_info_of(exc: BaseException) -> tuple[Any, Any, Any]:
    try:
        raise exc
    except BaseException:
        return sys.exc_info()


def check_contract(adapter: DataStorage) -> None:
    """What every adapter must do; called by each adapter's test."""
    adapter.connect()
    assert adapter.is_connected()
    adapter.store({"in": 1}, "flow1", "Task1", "id-1", {"out": [1, 2]})
    adapter.store(None, "flow1", "Task2", "id-1", None)  # same id, other task: a separate record
    assert adapter.retrieve("flow1", "Task1", "id-1") == {"out": [1, 2]}
    assert adapter.retrieve("flow1", "Task2", "id-1") is None
    adapter.store({"in": 1}, "flow1", "Task1", "id-1", {"out": "again"})  # a retry overwrites
    assert adapter.retrieve("flow1", "Task1", "id-1") == {"out": "again"}
    with pytest.raises(SelinonMissingDataException):
        adapter.retrieve("flow1", "Task1", "missing")

    adapter.store_error({"in": 1}, "flow1", "Task3", "id-3", exc_info_of(ValueError("bad input")))
    record = adapter.retrieve_error("flow1", "Task3", "id-3")
    assert record["type"] == "ValueError" and record["message"] == "bad input"
    assert "ValueError: bad input" in record["traceback"]
    rebuilt = exception_from_record(record)
    assert isinstance(rebuilt, ValueError) and rebuilt.args == ("bad input",)
    with pytest.raises(SelinonMissingDataException):
        adapter.retrieve("flow1", "Task3", "id-3")  # an error is not a result
    with pytest.raises(SelinonMissingDataException):
        adapter.retrieve_error("flow1", "Task1", "id-1")

    adapter.delete("flow1", "Task1", "id-1")
    with pytest.raises(SelinonMissingDataException):
        adapter.retrieve("flow1", "Task1", "id-1")
    adapter.disconnect()
    assert not adapter.is_connected()


def test_memory_contract() -> None:
    check_contract(InMemoryStorage())


def test_memory_returns_copies() -> None:
    adapter = InMemoryStorage()
    result = {"items": [1]}
    adapter.store(None, "f", "T", "i", result)
    result["items"].append(2)
    got = adapter.retrieve("f", "T", "i")
    got["items"].append(3)
    assert adapter.retrieve("f", "T", "i") == {"items": [1]}


def test_memory_refuses_results_other_storages_could_not_keep() -> None:
    with pytest.raises(TypeError):
        InMemoryStorage().store(None, "f", "T", "i", object())


def test_memory_echo(capsys: pytest.CaptureFixture[str]) -> None:
    InMemoryStorage(echo=True).store(None, "flow1", "Task1", "i1", {"a": 1})
    InMemoryStorage().store(None, "flow1", "Task1", "i2", {"a": 2})
    assert capsys.readouterr().out == 'flow1/Task1/i1: {"a": 1}\n'


def test_filesystem_contract(tmp_path: Path) -> None:
    check_contract(FilesystemStorage(path=str(tmp_path / "results")))


def test_filesystem_layout_and_no_temporary_files_left(tmp_path: Path) -> None:
    adapter = Filesystem(path=tmp_path)
    adapter.connect()
    adapter.store({"a": 1}, "flow1", "Task1", "abc", {"r": 1})
    adapter.store_error(None, "flow1", "Task1", "abc", exc_info_of(RuntimeError("x")))
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["Task1/abc.json", "Task1/errors/abc.json"]
    document = json.loads((tmp_path / "Task1" / "abc.json").read_text())
    assert document == {"flow_name": "flow1", "task_name": "Task1", "task_id": "abc", "node_args": {"a": 1},
                        "result": {"r": 1}}


def test_filesystem_names_cannot_escape_the_directory(tmp_path: Path) -> None:
    root = tmp_path / "root"
    adapter = FilesystemStorage(path=root)
    adapter.connect()
    adapter.store(None, "f", "../evil", "../../id", 1)
    adapter.store(None, "f", "..", ".", 2)
    assert all(root in p.parents for p in tmp_path.rglob("*.json"))
    assert adapter.retrieve("f", "../evil", "../../id") == 1
    assert adapter.retrieve("f", "..", ".") == 2


def test_filesystem_needs_a_path() -> None:
    with pytest.raises(ValueError, match="needs a 'path'"):
        FilesystemStorage()


@pytest.fixture
def django_storage(db: None) -> Iterator[DjangoStorage]:
    yield DjangoStorage()


def test_django_contract(django_storage: DjangoStorage) -> None:
    check_contract(django_storage)


def test_django_rows(django_storage: DjangoStorage) -> None:
    from selinon_django.models.results import StoredResult

    record_id = django_storage.store({"a": 1}, "flow1", "Task1", "t1", None)
    django_storage.store_error({"a": 1}, "flow1", "Task1", "t1", exc_info_of(OSError("disk")))
    row = StoredResult.objects.get()
    assert row.pk == record_id
    assert (row.flow_name, row.task_name, row.task_id, row.node_args) == ("flow1", "Task1", "t1", {"a": 1})
    assert row.has_result and row.result is None  # a stored None is a result
    assert row.error is not None and row.error["type"] == "OSError"
    assert django_storage.retrieve("flow1", "Task1", "t1") is None
