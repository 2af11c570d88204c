"""Trigger tasks of the trigger tests (unit tests run them in-process, the workers for real).

Their behaviour depends only on their kwargs and attempt number, so the same classes serve
both. ``CountRuns`` appends a line to a file per session under ``SELINON_DJANGO_VAR_DIR``,
which shows how often a task body really ran, whatever the rows say.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from selinon_django.triggers.task import TaskContext, TriggerTask


def runs_file(session: str, task_name: str) -> Path:
    path = Path(os.environ.get("SELINON_DJANGO_VAR_DIR", "var")) / "trigger-runs"
    path.mkdir(parents=True, exist_ok=True)
    return path / f"{session}--{task_name}"


def run_count(session: str, task_name: str) -> int:
    path = runs_file(session, task_name)
    return len(path.read_text().splitlines()) if path.exists() else 0


class CountRuns(TriggerTask):
    """Records that it ran and passes on what it saw."""

    def _run(self, context: TaskContext) -> dict[str, Any]:
        with runs_file(context.session, context.task_name).open("a") as handle:
            handle.write(f"{context.attempt}\n")
        context.logger.info("ran with %s", sorted(context.trigger_kwargs))
        return {"seen": context.trigger_kwargs}


class AddOne(TriggerTask):
    """``{"n": n + 1}`` from the ``n`` of the (single) trigger that caused it."""

    def _run(self, context: TaskContext) -> dict[str, Any]:
        (trigger,) = context.trigger_kwargs
        values = context.filter_kwargs({trigger: {"n": {"type": "integer"}}})
        return {"n": values[trigger]["n"] + 1, "after": trigger}


class RetryWithFreshToken(TriggerTask):
    """First attempt: retry with replacement kwargs; next: succeed only with the fresh token."""

    max_retries = 2

    def _run(self, context: TaskContext) -> dict[str, Any]:
        token = context.trigger_kwargs["start"].get("token")
        if token != "fresh":
            raise self.retry(exc=ConnectionError("service down"), cooldown=0.1,
                             trigger_kwargs={"start": {"token": "fresh"}})
        return {"token": token, "attempt": context.attempt}


class AlwaysRetry(TriggerTask):
    max_retries = 2

    def _run(self, context: TaskContext) -> dict[str, Any]:
        raise self.retry(exc=RuntimeError(f"still down (attempt {context.attempt})"), cooldown=0)


class ImportSubject(TriggerTask):
    """The spec's example with a JSON-schema description instead of Filters."""

    def _run(self, context: TaskContext) -> dict[str, Any]:
        values = context.filter_kwargs({
            "firstPageReceived": {
                "responses": {
                    "type": "object",
                    "properties": {"birthday": {"type": "string", "format": "date"}, "name": {"type": "string"}},
                    "required": ["birthday", "name"],
                },
            },
        })
        page = values["firstPageReceived"]["responses"]
        return {"name": page["name"], "year": page["birthday"].year}
