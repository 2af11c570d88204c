"""Evaluating edge and fallback conditions (and/or/not trees of predicates).

A condition is evaluated once per edge *combination* (one finished instance per source name).
Results are read lazily and at most once per node path per evaluation: a predicate that does
not take ``message`` never causes a storage read, and ``and``/``or`` short-circuit as in Python.

Which result a predicate sees (its ``message``)
-----------------------------------------------

- ``node: Task1``: the result of the instance of ``Task1`` in the combination being evaluated.
- no ``node`` on an edge with a single source task: that source's result (Selinon lets the node
  be omitted then).
- Beyond Selinon, ``node: flow2/Task5`` reads a result produced *inside* a finished sub-flow:
  ``flow2`` must be a source of the edge; the path is followed in the instance of ``flow2`` in
  the combination, taking the *last finished* instance at each further step, so
  ``flow2/flow3/Task6`` is the last ``Task6`` of the last ``flow3`` run of that ``flow2`` run.
  When a step of the path did not finish (the task never ran or failed inside the sub-flow),
  the predicate is not called and counts as false (``not`` turns that into true).
- Fallback conditions and conditions of starting edges see no result (``message=None``); they
  may look at ``node_args`` only.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from selinon_django.config.model import And, Condition, Not, Or, Predicate, SystemConfig, thaw
from selinon_django.engine.ports import Ports
from selinon_django.errors import SelinonDjangoError
from selinon_django.predicates.calling import call_predicate, predicate_signature

__all__ = ["ConditionContext", "ConditionError", "condition_str", "evaluate"]

_MISSING = object()


class ConditionError(SelinonDjangoError):
    """A condition names a node it cannot read (the configuration checks normally prevent it)."""


class ConditionContext:
    """What one evaluation can see: the combination's instances, the flow args and the ports.

    ``sources`` maps each source name of the edge to the instance id in this combination
    (empty for starting edges and fallbacks).
    """

    def __init__(
        self,
        config: SystemConfig,
        ports: Ports,
        node_args: Any,
        sources: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.ports = ports
        self.node_args = node_args
        self.sources: Mapping[str, str] = sources or {}
        self._results: dict[str, Any] = {}

    def default_node(self) -> str | None:
        """The node a predicate without ``node`` reads: the single source, when it is a task."""
        if len(self.sources) == 1:
            (name,) = self.sources
            if not self.config.is_flow(name):
                return name
        return None

    def result(self, path: str) -> Any:
        """The result at ``path`` (``Task`` or ``flow/.../Task``), or ``_MISSING`` if it did not finish."""
        if path not in self._results:
            self._results[path] = self._read(path)
        return self._results[path]

    def _read(self, path: str) -> Any:
        head, *rest = path.split("/")
        if head not in self.sources:
            raise ConditionError(f"condition reads {path!r} but {head!r} is not a source of this edge")
        if not rest:
            if self.config.is_flow(head):
                raise ConditionError(f"condition reads the result of flow {head!r}; name a task inside it: {head}/Task")
            return self.ports.task_result(head, self.sources[head])
        if not self.config.is_flow(head):
            raise ConditionError(f"condition path {path!r}: {head!r} is not a flow")
        flow_name, run_id = head, self.sources[head]
        for step in rest[:-1]:
            ids = self.ports.subflow_finished_nodes(flow_name, run_id).get(step)
            if not ids:
                return _MISSING
            flow_name, run_id = step, ids[-1]
        task_ids = self.ports.subflow_finished_nodes(flow_name, run_id).get(rest[-1])
        if not task_ids:
            return _MISSING
        return self.ports.task_result(rest[-1], task_ids[-1])


def _evaluate_predicate(predicate: Predicate, context: ConditionContext) -> bool:
    fn: Callable[..., Any] = context.ports.load_predicate(predicate.module, predicate.name)
    message: Any = None
    if predicate_signature(fn).needs_message:
        node = predicate.node or context.default_node()
        if node is not None:
            message = context.result(node)
            if message is _MISSING:
                return False
    return call_predicate(fn, thaw(predicate.args), message=message, node_args=context.node_args)


def evaluate(condition: Condition, context: ConditionContext) -> bool:
    """Evaluate a condition tree; ``and``/``or`` short-circuit left to right."""
    if isinstance(condition, Predicate):
        return _evaluate_predicate(condition, context)
    if isinstance(condition, And):
        return all(evaluate(child, context) for child in condition.children)
    if isinstance(condition, Or):
        return any(evaluate(child, context) for child in condition.children)
    if isinstance(condition, Not):
        return not evaluate(condition.child, context)
    raise TypeError(f"not a condition: {condition!r}")


def condition_str(condition: Condition) -> str:
    """A readable rendering of a condition for trace events (``condition_str``)."""
    if isinstance(condition, Predicate):
        parts = [f"node={condition.node!r}"] if condition.node else []
        parts += [f"{key}={value!r}" for key, value in thaw(condition.args).items()]
        return f"{condition.name}({', '.join(parts)})"
    if isinstance(condition, And):
        return "(" + " and ".join(condition_str(child) for child in condition.children) + ")"
    if isinstance(condition, Or):
        return "(" + " or ".join(condition_str(child) for child in condition.children) + ")"
    if isinstance(condition, Not):
        return f"not {condition_str(condition.child)}"
    raise TypeError(f"not a condition: {condition!r}")
