"""Results in Redis as JSON strings, keyed ``<key_prefix>result:<task_name>:<task_id>``."""
from __future__ import annotations

import json
import threading
from typing import Any

from selinon_django.storages.base import DataStorage, ExcInfo, SelinonMissingDataException, error_record


class RedisStorage(DataStorage):
    """Either ``url`` or ``host``/``port``/``db``/``password``; ``charset`` decodes replies.

    redis-py's client holds a connection pool and is thread-safe, so one instance per process
    serves every thread.
    """

    def __init__(
        self,
        host: str | None = None,
        port: int = 6379,
        db: int = 0,
        password: str | None = None,
        url: str | None = None,
        charset: str | None = None,
        socket_timeout: float | None = None,
        key_prefix: str = "selinon:",
        **options: Any,
    ) -> None:
        super().__init__()
        self.host = host or "localhost"
        self.port = int(port)
        self.db = int(db)
        self.password = password
        self.url = url
        self.charset = charset or "utf-8"
        self.socket_timeout = socket_timeout
        self.key_prefix = key_prefix
        self.options = options
        self.client: Any = None
        self._lock = threading.Lock()

    def is_connected(self) -> bool:
        return self.client is not None

    def connect(self) -> None:
        import redis

        with self._lock:
            if self.client is not None:
                return
            common: dict[str, Any] = {"encoding": self.charset, "decode_responses": True}
            if self.socket_timeout is not None:
                common["socket_timeout"] = float(self.socket_timeout)
            if self.url:
                client = redis.Redis.from_url(self.url, **common, **self.options)
            else:
                client = redis.Redis(
                    host=self.host, port=self.port, db=self.db, password=self.password, **common, **self.options
                )
            client.ping()  # fail at connect time, not at the first store
            self.client = client

    def disconnect(self) -> None:
        with self._lock:
            if self.client is not None:
                self.client.close()
            self.client = None

    def _key(self, kind: str, task_name: str, task_id: str) -> str:
        return f"{self.key_prefix}{kind}:{task_name}:{task_id}"

    def _connected_client(self) -> Any:
        if self.client is None:
            raise RuntimeError("RedisStorage is not connected; get it from StoragePool.get_connected_storage()")
        return self.client

    def _get(self, key: str, what: str) -> Any:
        raw = self._connected_client().get(key)
        if raw is None:
            raise SelinonMissingDataException(f"no {what} under Redis key {key!r}")
        return json.loads(raw)

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        return self._get(self._key("result", task_name, task_id), "result")

    def store(self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any) -> Any:
        key = self._key("result", task_name, task_id)
        self._connected_client().set(key, json.dumps(result))
        return key

    def store_error(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: ExcInfo | tuple[Any, Any, Any]
    ) -> Any:
        key = self._key("error", task_name, task_id)
        self._connected_client().set(key, json.dumps(error_record(exc_info)))
        return key

    def retrieve_error(self, flow_name: str, task_name: str, task_id: str) -> Any:
        return self._get(self._key("error", task_name, task_id), "error")

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        self._connected_client().delete(self._key("result", task_name, task_id), self._key("error", task_name, task_id))


#: Selinon's class name (``selinon.storages.redis.Redis``)
Redis = RedisStorage
