"""Helpers shared by the engine tests: task behaviours for the simulator and a manual step driver."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from selinon_django.config.model import SystemConfig
from selinon_django.engine import FlowState, StartFlow, StartTask, StepResult, step
from selinon_django.engine.testing import FakePorts, TaskCall


class PlannedFailure(Exception):
    """What a scenario task raises to fail."""


def tasks(
    results: Mapping[str, Any] | None = None,
    fail: Collection[str] = (),
    fail_attempts: Mapping[str, int] | None = None,
) -> Callable[[TaskCall], Any]:
    """A simulator behaviour: ``results[name]`` (a value or ``fn(call)``), failing names in ``fail``.

    ``fail_attempts[name] = n`` makes the first ``n`` attempts of each instance fail.
    """
    results = dict(results or {})
    fail_attempts = dict(fail_attempts or {})

    def behaviour(call: TaskCall) -> Any:
        if call.name in fail or call.attempt <= fail_attempts.get(call.name, 0):
            raise PlannedFailure(call.name)
        value = results.get(call.name)
        return value(call) if callable(value) else value

    return behaviour


class Driver:
    """Step one flow by hand: the test decides when which node finishes."""

    def __init__(
        self,
        config: SystemConfig,
        flow_name: str,
        *,
        node_args: Any = None,
        parent: Mapping[str, Any] | None = None,
        ports: FakePorts | None = None,
        selective: Any = None,
    ) -> None:
        self.config = config
        self.flow_name = flow_name
        self.node_args = node_args
        self.parent = parent
        self.ports = ports or FakePorts()
        self.selective = selective
        self.state: FlowState | None = None
        self.results: list[StepResult] = []
        self.retry: float | None = None
        self.retried_count = 0

    def step(self) -> StepResult:
        result = step(
            self.config,
            self.flow_name,
            self.state,
            node_args=self.node_args,
            parent=self.parent,
            ports=self.ports,
            selective=self.selective,
            retried_count=self.retried_count,
            previous_retry=self.retry,
        )
        self.results.append(result)
        self.state = result.state
        self.node_args = result.node_args
        self.retry = result.retry
        return result

    @property
    def started(self) -> list[StartTask | StartFlow]:
        return [s for r in self.results for s in r.starts if isinstance(s, (StartTask, StartFlow))]

    def ids(self, name: str) -> list[str]:
        """Ids of every started instance of ``name``, in start order."""
        return [s.id for s in self.started if s.name == name]

    def id(self, name: str) -> str:
        (only,) = self.ids(name)
        return only
