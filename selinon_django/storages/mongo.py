"""Results in a MongoDB collection: Selinon's ``MongoDB`` adapter.

Configuration keys are Selinon's: ``db_name``, ``collection_name``, ``host``, ``port``
(``{VAR}`` placeholders are expanded by the configuration layer on the worker, not here).
``host`` may also be a ``mongodb://`` URI; any other key (``username``, ``password``,
``authSource``, ``tls``...) is handed to pymongo's ``MongoClient`` as it is.

The documents are Selinon's (``flow_name, node_args, task_name, task_id, result``), so a
collection Selinon workers wrote is read unchanged. Different on purpose: storing a result again
under the same task id (a message delivered twice) replaces the document instead of adding a
second one, and :meth:`MongoDB.connect` asks the server for a ``ping``, so a server that cannot be
reached fails there, with :class:`StorageError` naming the address, instead of at the first
write. pymongo's client is thread-safe: one adapter serves every thread of a worker. Errors are
not stored here (neither did Selinon's adapter): the node-run rows keep every failure.

pymongo is imported when this module is: install the ``[mongo]`` extra.
"""
from __future__ import annotations

import threading
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from selinon_django.storages.base import DataStorage, SelinonMissingDataException, StorageError

__all__ = ["MongoDB"]

#: how long connect() waits for a server, unless the configuration says otherwise (pymongo's 30 s
#: default made a worker look hung)
DEFAULT_SERVER_SELECTION_TIMEOUT_MS = 10_000


class MongoDB(DataStorage):
    """One collection of one database; see the module docstring."""

    def __init__(
        self,
        db_name: str,
        collection_name: str,
        host: str | None = None,
        port: int | str = 27017,
        **client_options: Any,
    ) -> None:
        super().__init__()
        if not db_name or not collection_name:
            raise ValueError("MongoDB storage: 'db_name' and 'collection_name' are required")
        self.db_name = str(db_name)
        self.collection_name = str(collection_name)
        self.host = str(host or "localhost")
        try:
            self.port = int(port)
        except (TypeError, ValueError):
            raise ValueError(f"MongoDB storage: port must be a number, not {port!r}") from None
        self.client_options = {"serverSelectionTimeoutMS": DEFAULT_SERVER_SELECTION_TIMEOUT_MS, **client_options}
        self.client: Any = None
        self.collection: Any = None
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        """The server and collection, for messages (a URI's password is not shown)."""
        server = self.host
        if "://" in server and "@" in server:
            scheme, rest = server.split("://", 1)
            server = f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
        elif "://" not in server:
            server = f"{server}:{self.port}"
        return f"{self.db_name}.{self.collection_name} at {server}"

    def is_connected(self) -> bool:
        return self.collection is not None

    def connect(self) -> None:
        with self._lock:
            if self.collection is not None:
                return
            client: Any = MongoClient(self.host, self.port, **self.client_options)
            try:
                client.admin.command("ping")
            except PyMongoError as error:
                client.close()
                raise StorageError(f"MongoDB storage cannot reach {self.where}: {error}") from error
            self.client = client
            self.collection = client[self.db_name][self.collection_name]

    def disconnect(self) -> None:
        with self._lock:
            if self.client is not None:
                self.client.close()
            self.client = None
            self.collection = None

    def _collection(self) -> Any:
        if self.collection is None:
            raise RuntimeError("MongoDB storage is not connected; get it from StoragePool.get_connected_storage()")
        return self.collection

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        record = self._collection().find_one({"task_id": task_id, "task_name": task_name}, {"_id": 0, "result": 1})
        if record is None:
            raise SelinonMissingDataException(f"no result of {task_name} {task_id} in {self.where}")
        return record.get("result")

    def store(self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any) -> Any:
        record = {"flow_name": flow_name, "node_args": node_args, "task_name": task_name,
                  "task_id": task_id, "result": result}
        self._collection().replace_one({"task_id": task_id}, record, upsert=True)
        return task_id

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        self._collection().delete_many({"task_id": task_id})

    def __repr__(self) -> str:
        return f"<MongoDB {self.where}>"
