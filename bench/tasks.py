"""The Selinon side of the benchmarks: a no-op task and the foreach function."""
from __future__ import annotations

from typing import Any

from selinon_django.task import SelinonTask


class Noop(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return None


def items(storage_pool: Any, node_args: Any) -> range:
    return range(int((node_args or {}).get("count", 5000)))
