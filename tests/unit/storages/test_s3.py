"""Selinon's S3 adapter against a real S3-compatible server: moto's server, started on a free
loopback port for this module (a separate process speaking HTTP, not an in-process mock)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from selinon_django.config import SourceFile, load_config_from_sources
from selinon_django.storages.base import SelinonMissingDataException, StorageError
from selinon_django.storages.pool import StoragePool
from selinon_django.storages.s3 import S3, S3Storage

MOTO_SERVER = Path(sys.executable).with_name("moto_server")
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    if not MOTO_SERVER.exists():
        pytest.fail(f"{MOTO_SERVER} is missing: install moto[server] (requirements.txt, test part)")
    port = free_port()
    process = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        seen: list[str] = []
        for line in process.stdout:  # the server says when it listens (no polling sleeps)
            seen.append(line)
            if f"127.0.0.1:{port}" in line and "Running on" in line:
                break
        else:
            pytest.fail("moto_server exited before listening:\n" + "".join(seen))
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def adapter(endpoint: str, bucket: str, **options: object) -> S3:
    return S3(bucket=bucket, endpoint_url=endpoint, use_ssl=False, **CREDENTIALS, **options)  # type: ignore[arg-type]


def bucket_name() -> str:
    return f"selinon-{uuid.uuid4().hex[:12]}"


def objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    client = boto3.client("s3", endpoint_url=endpoint, **CREDENTIALS)
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listed}


def test_json_results_round_trip_under_the_task_id(endpoint: str) -> None:
    bucket = bucket_name()
    storage = adapter(endpoint, bucket, serialize_json=True)
    storage.connect()  # creates the missing bucket, as Selinon's adapter does
    assert storage.is_connected()
    record = storage.store({"in": 1}, "flow1", "Task1", "id-1", {"out": [1, "ü", None]})
    assert record == f"s3://{bucket}/id-1"
    assert storage.retrieve("flow1", "Task1", "id-1") == {"out": [1, "ü", None]}
    storage.store({"in": 1}, "flow1", "Task1", "id-1", {"out": "again"})  # a redelivery overwrites
    assert storage.retrieve("flow1", "Task1", "id-1") == {"out": "again"}
    # Selinon's layout: one object per result, keyed by the task id alone, JSON inside
    assert objects(endpoint, bucket) == {"id-1": b'{"out": "again"}'}

    with pytest.raises(SelinonMissingDataException, match="missing"):
        storage.retrieve("flow1", "Task1", "missing")
    storage.delete("flow1", "Task1", "id-1")
    with pytest.raises(SelinonMissingDataException):
        storage.retrieve("flow1", "Task1", "id-1")
    storage.disconnect()
    assert not storage.is_connected()


def test_without_serialize_json_bytes_and_text_are_stored_as_given(endpoint: str) -> None:
    storage = adapter(endpoint, bucket_name(), serialize_json="false")
    storage.connect()
    storage.store(None, "flow1", "Blob", "b1", b"\x00\xffraw")
    storage.store(None, "flow1", "Text", "t1", "tëxt")
    assert storage.retrieve("flow1", "Blob", "b1") == b"\x00\xffraw"
    assert storage.retrieve("flow1", "Text", "t1") == "tëxt".encode()
    with pytest.raises(TypeError, match="serialize_json"):
        storage.store(None, "flow1", "Dict", "d1", {"a": 1})


def test_an_existing_bucket_is_used_and_errors_are_not_stored(endpoint: str) -> None:
    bucket = bucket_name()
    boto3.client("s3", endpoint_url=endpoint, **CREDENTIALS).create_bucket(Bucket=bucket)
    storage = S3Storage(bucket=bucket, endpoint_url=endpoint, serialize_json=True, **CREDENTIALS)
    storage.connect()
    with pytest.raises(NotImplementedError):  # the runtime keeps errors in its rows instead
        storage.store_error(None, "flow1", "Task1", "e1", (ValueError, ValueError("x"), None))


def test_an_unreachable_server_is_a_storage_error_naming_it() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    storage = S3(bucket="results", endpoint_url=closed, **CREDENTIALS)
    with pytest.raises(StorageError, match=f"bucket 'results' at {closed}"):
        storage.connect()
    assert not storage.is_connected()


def test_selinon_yaml_naming_the_s3_adapter_stores_through_the_pool(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``import: selinon.storages.s3`` with ``{VAR}`` placeholders, as a Selinon deployment writes it."""
    bucket = bucket_name()
    monkeypatch.setenv("S3_ENDPOINT", endpoint)
    monkeypatch.setenv("S3_BUCKET", bucket)
    nodes = """
tasks:
  - {name: Fetch, import: urlworker.tasks, storage: Blobs}
flows: [flow1]
storages:
  - name: Blobs
    import: selinon.storages.s3
    classname: S3Storage
    configuration:
      bucket: '{S3_BUCKET}'
      endpoint_url: '{S3_ENDPOINT}'
      use_ssl: 'false'
      serialize_json: true
      aws_access_key_id: testing
      aws_secret_access_key: testing
      region_name: us-east-1
"""
    flows = "flow-definitions:\n  - name: flow1\n    edges:\n      - {from: , to: Fetch}\n"
    config = load_config_from_sources(
        [SourceFile("nodes.yaml", "nodes", nodes), SourceFile("flows.yaml", "flows", flows)]
    )
    assert (config.storages["Blobs"].module, config.storages["Blobs"].classname) == ("selinon_django.storages.s3", "S3")
    pool = StoragePool.for_config(config)
    pool.store({"url": "u"}, "flow1", "Fetch", "task-1", {"status": 200})
    assert pool.retrieve("flow1", "Fetch", "task-1") == {"status": 200}
    assert objects(endpoint, bucket) == {"task-1": b'{"status": 200}'}
