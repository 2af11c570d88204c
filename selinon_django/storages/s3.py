"""Results in an S3 bucket (AWS, or any S3-compatible server: MinIO, Ceph, moto): Selinon's ``S3``.

Configuration keys are Selinon's: ``bucket``, ``location``, ``endpoint_url``, ``use_ssl``,
``aws_access_key_id``, ``aws_secret_access_key``, ``region_name``, ``serialize_json``
(``{VAR}`` placeholders are expanded by the configuration layer on the worker, not here).

The data layout is Selinon's too, so a bucket that Selinon workers wrote is read unchanged:
one object per result, keyed by the task id alone. ``serialize_json: false`` (Selinon's default)
stores the result as given, which must then be bytes or text, and returns bytes;
``serialize_json: true`` stores JSON and returns the decoded value. Errors are not stored here
(neither did Selinon's adapter): the node-run rows keep every failure, and
``parent_task_exception`` reads them from there.

boto3 is imported when this module is: install the ``[s3]`` extra.
"""
from __future__ import annotations

import json
import threading
from typing import Any

import boto3
from botocore.client import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from selinon_django.storages.base import DataStorage, SelinonMissingDataException, StorageError

__all__ = ["S3", "S3Storage"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
#: the error codes S3 answers for a bucket or key that does not exist
_MISSING = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}


def _flag(value: Any, key: str) -> bool | None:
    """A boolean configuration value; placeholders expand to text, so ``"false"`` is False."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"S3 storage: {key} must be true or false, not {value!r}")


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3(DataStorage):
    """One bucket; the boto3 client is made in :meth:`connect` and shared by every thread
    (boto3 clients are thread-safe, sessions are not, so the session is used once, under a lock)."""

    def __init__(
        self,
        bucket: str,
        location: str | None = None,
        endpoint_url: str | None = None,
        use_ssl: bool | str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        region_name: str | None = None,
        serialize_json: bool | str = False,
    ) -> None:
        super().__init__()
        if not bucket:
            raise ValueError("S3 storage: 'bucket' is required")
        self.bucket = str(bucket)
        self.location = location or None
        self.endpoint_url = endpoint_url or None
        self.use_ssl = _flag(use_ssl, "use_ssl")
        self.region_name = region_name or None
        self.serialize_json = bool(_flag(serialize_json, "serialize_json"))
        self._credentials = {"aws_access_key_id": aws_access_key_id or None,
                             "aws_secret_access_key": aws_secret_access_key or None}
        self.client: Any = None
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        """The bucket and server, for messages (never the credentials)."""
        return f"bucket {self.bucket!r} at {self.endpoint_url or 'AWS'}"

    def is_connected(self) -> bool:
        return self.client is not None

    def connect(self) -> None:
        """Make the client and check the bucket; a missing bucket is created (in ``location``
        when given), as Selinon's adapter does. An unreachable server or refused credentials
        raise :class:`StorageError` naming the bucket and endpoint."""
        with self._lock:
            if self.client is not None:
                return
            session = boto3.session.Session(region_name=self.region_name, **self._credentials)
            options: dict[str, Any] = {"config": BotoConfig(signature_version="s3v4")}
            if self.endpoint_url:
                options["endpoint_url"] = self.endpoint_url
            if self.use_ssl is not None:
                options["use_ssl"] = self.use_ssl
            client = session.client("s3", **options)
            try:
                self._ensure_bucket(client)
            except ClientError as error:
                raise StorageError(f"S3 storage cannot use {self.where}: {error}") from error
            except BotoCoreError as error:
                raise StorageError(f"S3 storage cannot reach {self.where}: {error}") from error
            self.client = client

    def _ensure_bucket(self, client: Any) -> None:
        try:
            client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            if _error_code(error) not in _MISSING:
                raise
            options: dict[str, Any] = {"Bucket": self.bucket}
            if self.location and self.location != "us-east-1":  # S3 refuses us-east-1 as a constraint
                options["CreateBucketConfiguration"] = {"LocationConstraint": self.location}
            client.create_bucket(**options)

    def disconnect(self) -> None:
        with self._lock:
            if self.client is not None:
                self.client.close()
            self.client = None

    def _connected_client(self) -> Any:
        if self.client is None:
            raise RuntimeError("S3 storage is not connected; get it from StoragePool.get_connected_storage()")
        return self.client

    def _body(self, result: Any, task_name: str) -> bytes:
        if self.serialize_json:
            return json.dumps(result).encode("utf-8")
        if isinstance(result, bytes):
            return result
        if isinstance(result, str):
            return result.encode("utf-8")
        raise TypeError(
            f"S3 storage of {self.where} stores only bytes or text without 'serialize_json: true' "
            f"(as Selinon's adapter); {task_name} returned {type(result).__name__}"
        )

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        try:
            response = self._connected_client().get_object(Bucket=self.bucket, Key=task_id)
        except ClientError as error:
            if _error_code(error) in _MISSING:
                raise SelinonMissingDataException(f"no result of {task_name} {task_id} in {self.where}") from None
            raise
        blob: bytes = response["Body"].read()
        return json.loads(blob.decode("utf-8")) if self.serialize_json else blob

    def store(self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any) -> Any:
        self._connected_client().put_object(Bucket=self.bucket, Key=task_id, Body=self._body(result, task_name))
        return f"s3://{self.bucket}/{task_id}"

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        self._connected_client().delete_object(Bucket=self.bucket, Key=task_id)

    def __repr__(self) -> str:
        return f"<S3 {self.where}>"


#: the class name the Selinon documentation's example configuration uses
S3Storage = S3
