"""Tasks of the migration test: a gate the test opens, and tasks that only say they ran."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from selinon_django.task import SelinonTask

#: a gate left closed this long fails its task (the test then fails with the workers' logs)
GATE_TIMEOUT = 60.0


class Gate(SelinonTask):
    """Waits until the file ``node_args["gate"]`` exists: the test changes the flow meanwhile."""

    def run(self, node_args: Any) -> Any:
        gate = Path(node_args["gate"])
        deadline = time.monotonic() + GATE_TIMEOUT
        while not gate.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{gate} was never opened")
            time.sleep(0.02)
        return {"opened": str(gate)}


class Mark(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return {"ran": self.task_name}
