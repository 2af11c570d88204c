"""Tasks that fail on purpose a first time, to show task retries, ``self.retry`` and flow retries."""
from __future__ import annotations

from typing import Any

from demo_project.tasks import attempts
from demo_project.tasks.base import PackageTask
from demo_project.tasks.sources import MirrorUnavailable


class FlakyMirrorSync(PackageTask):
    """Fails on its first attempt and succeeds on the retry ``max_retry`` allows.

    The retry keeps the task id, so the marker is keyed by it: the retry may run in another
    worker process and still knows it is the second attempt.
    """

    def run(self, node_args: Any) -> dict[str, Any]:
        key = f"FlakyMirrorSync:{self.task_id}"
        if attempts.first_time(key):
            raise MirrorUnavailable("mirror index not synchronised yet (fails once on purpose)")
        attempts.forget(key)
        return {"synchronised": True, "mirror": "backup"}


class WaitForMirrorSync(PackageTask):
    """Asks for a retry once with ``self.retry(countdown)``, which does not count against max_retry."""

    def run(self, node_args: Any) -> dict[str, Any]:
        key = f"WaitForMirrorSync:{self.task_id}"
        if attempts.first_time(key):
            self.retry(countdown=1)
            raise AssertionError("SelinonTask.retry() must raise")  # pragma: no cover
        attempts.forget(key)
        return {"synchronised": True, "waited": True}


class FlakyOncePerFlow(PackageTask):
    """Fails the first time it runs in a flow run; the flow's ``max_retry`` starts the flow again.

    A flow retry restarts every node with new task ids but keeps the dispatcher id (as in
    Selinon, where the retry is a Celery retry of the dispatcher task), so that is the key.
    """

    def run(self, node_args: Any) -> dict[str, Any]:
        key = f"FlakyOncePerFlow:{self.dispatcher_id}"
        if attempts.first_time(key):
            raise RuntimeError("first run of this flow fails on purpose (flow max_retry restarts it)")
        attempts.forget(key)
        return {"flow_attempt": "retry succeeded"}
