"""Selinon's SQL adapter (``SqlStorage``, Selinon's ``PostgreSQL``) on the test PostgreSQL, and on
SQLite: Selinon's ``result`` table, upserts on the task id, clear connection errors."""
from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from selinon_django.config import SourceFile, load_config_from_sources
from selinon_django.storages.base import SelinonMissingDataException, StorageError
from selinon_django.storages.pool import StoragePool
from selinon_django.storages.sql import PostgreSQL, SqlStorage, engine_url


def postgres_database(django_db_setup: Any) -> str:
    """The pytest-django test database (its ``result`` table is dropped after each test)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("DATABASE_URL does not name PostgreSQL: the PostgreSQL case runs with the test services")
    settings = connection.settings_dict
    return (f"postgresql://{settings['USER']}:{settings['PASSWORD']}@{settings['HOST'] or 'localhost'}:"
            f"{settings['PORT'] or 5432}/{settings['NAME']}")


@pytest.fixture(params=["postgresql", "sqlite"])
def connection_string(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'results.sqlite3'}"
        return
    url = postgres_database(request.getfixturevalue("django_db_setup"))
    yield url
    engine = create_engine(engine_url(url))
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS result"))
    engine.dispose()


def test_results_round_trip_in_selinons_table(connection_string: str) -> None:
    storage = SqlStorage(connection_string=connection_string, echo=False)
    storage.connect()  # creates the table when missing
    assert storage.is_connected()
    first = storage.store({"in": 1}, "flow1", "Task1", "id-1", {"out": [1, "ü", None]})
    assert storage.retrieve("flow1", "Task1", "id-1") == {"out": [1, "ü", None]}
    again = storage.store({"in": 1}, "flow1", "Task1", "id-1", {"out": "again"})  # a redelivery replaces
    assert again == first and storage.retrieve("flow1", "Task1", "id-1") == {"out": "again"}
    storage.store(None, "flow1", "Task2", "id-2", None)
    assert storage.retrieve("flow1", "Task2", "id-2") is None
    with pytest.raises(SelinonMissingDataException):
        storage.retrieve("flow1", "Task1", "missing")
    with pytest.raises(SelinonMissingDataException):  # the id is another task's
        storage.retrieve("flow1", "Task2", "id-1")

    # Selinon's table: what other tools reading it expect
    engine = create_engine(engine_url(connection_string))
    columns = {column["name"] for column in inspect(engine).get_columns("result")}
    assert columns == {"id", "flow_name", "task_name", "task_id", "result", "node_args"}
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT flow_name, task_name, task_id, node_args FROM result ORDER BY id"))
        # (JSONB on PostgreSQL, JSON text on SQLite)
        found = [(*row[:3], json.loads(row[3]) if isinstance(row[3], str) else row[3]) for row in rows]
        assert found == [("flow1", "Task1", "id-1", {"in": 1}), ("flow1", "Task2", "id-2", None)]
    engine.dispose()

    storage.delete("flow1", "Task1", "id-1")
    with pytest.raises(SelinonMissingDataException):
        storage.retrieve("flow1", "Task1", "id-1")
    storage.disconnect()
    assert not storage.is_connected()


def test_postgres_urls_as_selinon_writes_them_use_psycopg() -> None:
    assert engine_url("postgres://u:p@db:5432/results") == "postgresql+psycopg://u:p@db:5432/results"
    assert engine_url("postgresql://u@db/results") == "postgresql+psycopg://u@db/results"
    assert engine_url("postgresql+psycopg2://u@db/results") == "postgresql+psycopg2://u@db/results"
    assert engine_url("sqlite:///x.db") == "sqlite:///x.db"


def test_an_unreachable_database_is_a_storage_error_without_the_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    storage = PostgreSQL(connection_string=f"postgres://selinon:s3cret@127.0.0.1:{port}/results")
    with pytest.raises(StorageError) as caught:
        storage.connect()
    assert f"SQL storage cannot use postgresql+psycopg://selinon:***@127.0.0.1:{port}/results" in str(caught.value)
    assert "s3cret" not in str(caught.value)
    assert not storage.is_connected()


def test_selinon_yaml_naming_the_postgresql_adapter(tmp_path: Path) -> None:
    nodes = f"""
tasks:
  - {{name: Count, import: urlworker.tasks, storage: SqlResults}}
flows: [flow1]
storages:
  - name: SqlResults
    import: selinon.storages.postgresql
    classname: PostgreSQL
    configuration:
      connection_string: 'sqlite:///{tmp_path / "results.sqlite3"}'
      encoding: utf-8
      echo: false
"""
    flows = "flow-definitions:\n  - name: flow1\n    edges:\n      - {from: , to: Count}\n"
    config = load_config_from_sources(
        [SourceFile("nodes.yaml", "nodes", nodes), SourceFile("flows.yaml", "flows", flows)]
    )
    storage = config.storages["SqlResults"]
    assert (storage.module, storage.classname) == ("selinon_django.storages.sql", "SqlStorage")
    pool = StoragePool.for_config(config)
    pool.store(None, "flow1", "Count", "c1", {"words": 3})
    assert pool.retrieve("flow1", "Count", "c1") == {"words": 3}
