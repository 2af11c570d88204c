"""Tasks named by the migration tests' YAML (never run by the unit tests)."""
from __future__ import annotations

from typing import Any

from selinon_django.task import SelinonTask


class Task1(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return None


class Task2(Task1):
    pass


class Task3(Task1):
    pass


class Task4(Task1):
    pass
