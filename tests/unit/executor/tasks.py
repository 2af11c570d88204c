"""Task classes, foreach/selective functions and a sampling strategy for the executor tests.

Each task's behaviour is steered by ``node_args`` so one class serves many flows: results are
small dicts that say who ran and what it saw, which is what the tests assert on.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from selinon_django import SelinonTask
from selinon_django.errors import FatalTaskError

#: attempts per (task id) and per (dispatcher id, task name): "fail N times, then succeed"
ATTEMPTS: Counter[str] = Counter()
#: calls of the custom sampling strategy (the tests check it was consulted)
STRATEGY_CALLS: list[dict[str, Any]] = []


def _args(node_args: Any) -> dict[str, Any]:
    return node_args if isinstance(node_args, dict) else {}


class Echo(SelinonTask):
    """Returns its name, node_args and parent mapping, plus ``node_args["results"][name]`` merged in."""

    def run(self, node_args: Any) -> Any:
        extra = _args(node_args).get("results", {}).get(self.task_name, {})
        return {"task": self.task_name, "node_args": node_args, "parent": self.parent, **extra}


class ReadParents(SelinonTask):
    """Reads every direct parent's stored result, and sub-flow results through parent_flow_result."""

    def run(self, node_args: Any) -> Any:
        direct: dict[str, Any] = {}
        nested: dict[str, Any] = {}
        for name, value in (self.parent or {}).items():
            if isinstance(value, str):
                direct[name] = self.parent_task_result(name)["task"]
            else:
                for task_name, ids in value.items():
                    if isinstance(ids, list):
                        nested[f"{name}/{task_name}"] = [
                            self.parent_flow_result(name, task_name, i)["task"] for i in range(len(ids))
                        ]
        return {"task": self.task_name, "direct": direct, "nested": nested}


class Fail(SelinonTask):
    def run(self, node_args: Any) -> Any:
        raise ValueError(f"{self.task_name} fails on purpose")


class FailFatal(SelinonTask):
    def run(self, node_args: Any) -> Any:
        raise FatalTaskError(f"{self.task_name} gives up")


class Flaky(SelinonTask):
    """Fails ``node_args["fail_times"]`` times (default 1) per task id, then succeeds."""

    def run(self, node_args: Any) -> Any:
        ATTEMPTS[self.task_id] += 1
        if ATTEMPTS[self.task_id] <= _args(node_args).get("fail_times", 1):
            raise ValueError(f"attempt {ATTEMPTS[self.task_id]} of {self.task_name} fails")
        return {"task": self.task_name, "attempt": ATTEMPTS[self.task_id]}


class FlakyPerFlow(SelinonTask):
    """Fails the first time it runs in a flow run (keyed by the dispatcher id: a flow retry keeps it)."""

    def run(self, node_args: Any) -> Any:
        key = f"{self.dispatcher_id}/{self.task_name}"
        ATTEMPTS[key] += 1
        if ATTEMPTS[key] == 1:
            raise ValueError("first run in this flow fails")
        return {"task": self.task_name, "run": ATTEMPTS[key]}


class SelfRetry(SelinonTask):
    """Asks for ``self.retry(countdown)`` on its first two attempts (not counted against max_retry)."""

    def run(self, node_args: Any) -> Any:
        ATTEMPTS[self.task_id] += 1
        if ATTEMPTS[self.task_id] <= 2:
            self.retry(countdown=_args(node_args).get("countdown", 3600))
        return {"task": self.task_name, "attempt": ATTEMPTS[self.task_id]}


class BadOutput(SelinonTask):
    """Returns what ``node_args["output"]`` says (checked against an output_schema)."""

    def run(self, node_args: Any) -> Any:
        return _args(node_args).get("output", {"count": "many"})


class Recover(SelinonTask):
    """A fallback: reports the exceptions of the failed parents it was given."""

    def run(self, node_args: Any) -> Any:
        errors = {}
        for name, value in (self.parent or {}).items():
            if isinstance(value, str):
                errors[name] = str(self.parent_task_exception(name))
        return {"task": self.task_name, "errors": errors, "parent": self.parent}


def items(storage_pool: Any, node_args: Any) -> list[Any]:
    """foreach: the ``items`` of the flow's node_args."""
    return list(_args(node_args).get("items", []))


def items_from_parent(storage_pool: Any, node_args: Any) -> list[Any]:
    """foreach: the ``items`` in the stored result of the parent ``List``."""
    return list(storage_pool.get("List")["items"])


def reuse(flow_name: str, node_name: str, node_args: Any, task_names: list[str], storage_pool: Any) -> Any:
    """selective_run_function: the task id ``node_args["reuse"][node_name]`` when given."""
    return _args(node_args).get("reuse", {}).get(node_name)


def counting_strategy(status: dict[str, Any], every: float = 7) -> float | None:
    """A custom sampling strategy: look again every ``every`` seconds while anything is active."""
    STRATEGY_CALLS.append(dict(status))
    return every if status["active_nodes"] else None


class Count(SelinonTask):
    """``n`` = its parent Count's ``n`` + 1 (1 without one): drives a cycle with a condition."""

    def run(self, node_args: Any) -> Any:
        n = 0
        if self.parent and "Count" in self.parent:
            n = self.parent_task_result("Count")["n"]
        return {"task": self.task_name, "n": n + 1}
