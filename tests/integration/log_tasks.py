"""Tasks that log (the task-log tests; imported by the unit tests and by the worker processes)."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from selinon_django.task import SelinonTask

#: a module logger, as library code inside a task would use
library_log = logging.getLogger("tests.integration.log_tasks.library")


class Chatty(SelinonTask):
    """``self.log`` at several levels, a module logger, and a secret in a URL."""

    def run(self, node_args: Any) -> Any:
        self.log.debug("debug detail (below TASK_LOG_LEVEL)")
        for index in range(int((node_args or {}).get("lines", 3))):
            self.log.info("step %d of %s", index + 1, self.task_name)
        library_log.warning("connecting to redis://:hunter2@cache.example:6379/0")
        return {"ok": True}


class Silent(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return {"ok": True}


class Flood(SelinonTask):
    """``node_args["lines"]`` lines of ``node_args["width"]`` characters."""

    def run(self, node_args: Any) -> Any:
        args = node_args or {}
        for index in range(int(args.get("lines", 100))):
            self.log.info("%05d %s", index, "x" * int(args.get("width", 94)))
        return {"ok": True}


class LogsThenFails(SelinonTask):
    def run(self, node_args: Any) -> Any:
        self.log.info("about to fail")
        try:
            raise KeyError("missing")
        except KeyError:
            self.log.exception("handled a KeyError")
        raise ValueError("broken by postgres://app:s3cret@db.example/prod")


class Streaming(SelinonTask):
    """Logs a line, waits (bounded) for the file ``node_args["release"]``, logs another line.

    The integration test reads the first line while the node still runs, then creates the file.
    """

    def run(self, node_args: Any) -> Any:
        release = Path(node_args["release"])
        self.log.info("first line, before the wait")
        deadline = time.monotonic() + float(node_args.get("timeout", 60))
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.log.info("last line, after the wait")
        return {"released": release.exists()}
