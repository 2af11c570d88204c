"""Results in an SQL database through SQLAlchemy: Selinon's ``SqlStorage`` (``PostgreSQL``).

Configuration keys are Selinon's: ``connection_string``, ``encoding``, ``echo`` (``{VAR}``
placeholders are expanded by the configuration layer on the worker, not here). The table is
Selinon's ``result`` table (``id, flow_name, task_name, task_id UNIQUE, result, node_args``; JSONB
on PostgreSQL, JSON elsewhere), so a database Selinon workers wrote is read unchanged. It is
created when missing; the database itself is not (that needs rights a worker should not have).

Different from Selinon's adapter, on purpose:

- a result stored again under the same task id (a message delivered twice) replaces the row
  instead of failing on the unique task id;
- each call takes a pooled connection for one short transaction, so one adapter serves every
  thread of a worker (a single shared session would not be thread-safe);
- ``postgres://`` and ``postgresql://`` URLs use psycopg (version 3) when it is installed, as
  this project does, instead of SQLAlchemy's default psycopg2.

Errors are not stored here (neither did Selinon's adapter): the node-run rows keep every
failure. SQLAlchemy is imported when this module is: install the ``[sql]`` extra.
"""
from __future__ import annotations

import importlib.util
import threading
from typing import Any, cast

from sqlalchemy import JSON, Integer, String, Table, create_engine, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from selinon_django.storages.base import DataStorage, SelinonMissingDataException, StorageError

__all__ = ["PostgreSQL", "Result", "SqlStorage", "engine_url"]


class _Base(DeclarativeBase):
    pass


class Result(_Base):
    """A stored result: Selinon's table, columns and unique task id."""

    __tablename__ = "result"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_name: Mapped[str | None] = mapped_column(String(128))
    task_name: Mapped[str | None] = mapped_column(String(128))
    task_id: Mapped[str] = mapped_column(String(255), unique=True)
    result: Mapped[Any] = mapped_column(JSON().with_variant(JSONB(), "postgresql"), nullable=True)
    node_args: Mapped[Any] = mapped_column(JSON().with_variant(JSONB(), "postgresql"), nullable=True)


_TABLE = cast(Table, Result.__table__)


def engine_url(connection_string: str) -> str:
    """The SQLAlchemy URL of a Selinon connection string.

    ``postgres://`` (Selinon's documentation writes it so; SQLAlchemy 2 refuses it) becomes
    ``postgresql://``; a PostgreSQL URL naming no driver gets psycopg when it is installed.
    """
    url = make_url(connection_string)
    if url.drivername == "postgres":
        url = url.set(drivername="postgresql")
    if url.drivername == "postgresql" and importlib.util.find_spec("psycopg") is not None:
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


class SqlStorage(DataStorage):
    """The ``result`` table of one database; see the module docstring."""

    def __init__(self, connection_string: str, encoding: str = "utf-8", echo: bool = False) -> None:
        super().__init__()
        if not connection_string:
            raise ValueError("SQL storage: 'connection_string' is required")
        self.url = engine_url(str(connection_string))
        self.encoding = encoding
        self.echo = bool(echo)
        self.engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        """The database, for messages (the password masked)."""
        return make_url(self.url).render_as_string(hide_password=True)

    def is_connected(self) -> bool:
        return self.engine is not None

    def connect(self) -> None:
        """Make the engine, check the database answers, create the table when missing."""
        with self._lock:
            if self.engine is not None:
                return
            connect_args: dict[str, Any] = {}
            if make_url(self.url).get_backend_name() == "postgresql" and self.encoding:
                connect_args["client_encoding"] = self.encoding
            engine = create_engine(self.url, echo=self.echo, pool_pre_ping=True, connect_args=connect_args)
            try:
                _TABLE.create(engine, checkfirst=True)
            except SQLAlchemyError as error:
                engine.dispose()
                raise StorageError(f"SQL storage cannot use {self.where}: {error}") from error
            self.engine = engine

    def disconnect(self) -> None:
        with self._lock:
            if self.engine is not None:
                self.engine.dispose()
            self.engine = None

    def _engine(self) -> Engine:
        if self.engine is None:
            raise RuntimeError("SQL storage is not connected; get it from StoragePool.get_connected_storage()")
        return self.engine

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        query = select(_TABLE.c.task_name, _TABLE.c.result).where(_TABLE.c.task_id == task_id)
        with self._engine().connect() as connection:
            row = connection.execute(query).first()
        if row is None or row.task_name != task_name:
            raise SelinonMissingDataException(f"no result of {task_name} {task_id} in {self.where}")
        return row.result

    def store(self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any) -> Any:
        values = {"flow_name": flow_name, "task_name": task_name, "task_id": task_id,
                  "result": result, "node_args": node_args}
        with self._engine().begin() as connection:
            return self._upsert(connection, values)

    def _upsert(self, connection: Connection, values: dict[str, Any]) -> int:
        """Insert the row, or replace the one with the same task id; returns the row id."""
        changed = {key: value for key, value in values.items() if key != "task_id"}
        dialect = connection.dialect.name
        if dialect in ("postgresql", "sqlite"):
            insert = postgresql.insert(_TABLE) if dialect == "postgresql" else sqlite.insert(_TABLE)
            statement = insert.values(**values).on_conflict_do_update(index_elements=["task_id"], set_=changed)
            return int(connection.execute(statement.returning(_TABLE.c.id)).scalar_one())
        # other databases: update, else insert; an insert racing another one updates after all
        replaced = update(_TABLE).where(_TABLE.c.task_id == values["task_id"]).values(**changed)
        if connection.execute(replaced).rowcount == 0:
            try:
                with connection.begin_nested():
                    connection.execute(_TABLE.insert().values(**values))
            except IntegrityError:
                connection.execute(replaced)
        found = connection.execute(select(_TABLE.c.id).where(_TABLE.c.task_id == values["task_id"]))
        return int(found.scalar_one())

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        with self._engine().begin() as connection:
            connection.execute(delete(_TABLE).where(_TABLE.c.task_id == task_id))

    def __repr__(self) -> str:
        return f"<SqlStorage {self.where}>"


#: Selinon's class name (``selinon.storages.postgresql.PostgreSQL``)
PostgreSQL = SqlStorage
