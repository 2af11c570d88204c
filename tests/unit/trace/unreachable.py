"""A storage whose server cannot be reached: its error names the URL it was configured with, as
redis-py's and most drivers' errors do (the trace row tests check the password is masked)."""
from __future__ import annotations

from typing import Any

from selinon_django.storages.base import DataStorage
from selinon_django.task import SelinonTask


class UnreachableStorage(DataStorage):
    def __init__(self, url: str = "", **configuration: Any) -> None:
        super().__init__()
        self.url = url

    def is_connected(self) -> bool:
        return False

    def connect(self) -> None:
        raise ConnectionError(f"Error 111 connecting to {self.url}. Connection refused.")

    def disconnect(self) -> None:
        pass

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        raise AssertionError("never connected")

    def store(self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any) -> Any:
        raise AssertionError("never connected")


class ReadsItsStorage(SelinonTask):
    """Fails the way a task does whose storage server is down: with the driver's error."""

    def run(self, node_args: Any) -> Any:
        return self.storage
