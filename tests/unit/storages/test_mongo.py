"""Selinon's MongoDB adapter without a MongoDB server.

No MongoDB server can be installed here (Debian has no mongodb package and the registries this
project may use ship no server), and faking one would test the fake. So these tests cover what
needs no server: Selinon's configuration keys reaching the adapter from YAML, a URI host, and a
server that cannot be reached reported at connect() with its address, within the configured
time-out. The round trip is the same code path as the SQL and S3 adapters' (replace by task id,
read by task id and name) and is not run here.
"""
from __future__ import annotations

import socket
import time

import pytest

from selinon_django.config import SourceFile, load_config_from_sources
from selinon_django.storages.base import StorageError
from selinon_django.storages.mongo import MongoDB
from selinon_django.storages.pool import StoragePool


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_selinon_configuration_keys_reach_the_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGO_HOST", "mongo.internal")
    nodes = """
tasks:
  - {name: Fetch, import: urlworker.tasks, storage: MyMongoStorage}
flows: [flow1]
storages:
  - name: MyMongoStorage
    classname: MongoDB
    import: selinon.storages.mongodb
    configuration:
      db_name: database_name
      collection_name: collection_name
      host: '{MONGO_HOST}'
      port: 27018
"""
    flows = "flow-definitions:\n  - name: flow1\n    edges:\n      - {from: , to: Fetch}\n"
    config = load_config_from_sources(
        [SourceFile("nodes.yaml", "nodes", nodes), SourceFile("flows.yaml", "flows", flows)]
    )
    storage = config.storages["MyMongoStorage"]
    assert (storage.module, storage.classname) == ("selinon_django.storages.mongo", "MongoDB")
    adapter = StoragePool.for_config(config)._instantiate(storage)
    assert isinstance(adapter, MongoDB)
    assert (adapter.db_name, adapter.collection_name, adapter.host, adapter.port) == (
        "database_name", "collection_name", "mongo.internal", 27018)
    assert not adapter.is_connected()  # nothing is contacted before connect()


def test_port_from_a_placeholder_is_a_number_and_a_bad_one_is_refused() -> None:
    assert MongoDB("db", "results", host="h", port="27019").port == 27019
    with pytest.raises(ValueError, match="port must be a number"):
        MongoDB("db", "results", host="h", port="mongo")
    with pytest.raises(ValueError, match="db_name"):
        MongoDB("", "results")


def test_an_unreachable_server_fails_at_connect_naming_it() -> None:
    port = closed_port()
    adapter = MongoDB("selinon", "results", host="127.0.0.1", port=port, serverSelectionTimeoutMS=500)
    started = time.monotonic()
    with pytest.raises(StorageError, match=f"MongoDB storage cannot reach selinon.results at 127.0.0.1:{port}"):
        adapter.connect()
    assert time.monotonic() - started < 10
    assert not adapter.is_connected()
    with pytest.raises(RuntimeError, match="not connected"):
        adapter.store(None, "flow1", "Fetch", "id-1", {})


def test_a_uri_host_is_shown_without_its_password() -> None:
    port = closed_port()
    adapter = MongoDB("selinon", "results", host=f"mongodb://worker:s3cret@127.0.0.1:{port}/?directConnection=true",
                      serverSelectionTimeoutMS=300)
    with pytest.raises(StorageError) as caught:
        adapter.connect()
    assert f"mongodb://***@127.0.0.1:{port}/" in str(caught.value)
    assert "s3cret" not in str(caught.value)
