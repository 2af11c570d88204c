"""What the dispatcher step needs from the outside world, as a ``Protocol`` the caller implements.

The engine is pure: it never imports Django or Celery and never touches a storage. Everything
that depends on the outside (did a node finish? what did it return? which id does a new node
get? how long must a throttled start wait?) is asked through :class:`Ports`. The Celery
runtime answers from node-run rows and storages; the in-process executor and the tests answer
from memory (see :mod:`selinon_django.engine.simulation` and :mod:`selinon_django.engine.testing`).

Results are asked for lazily: :meth:`Ports.task_result` is called only when a condition being
evaluated actually reads a result, so a flow without result conditions never touches storages.
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from selinon_django.config.model import ImportRef, NodeKind


class NodeStatus(enum.Enum):
    """What happened to a node instance the flow is waiting for."""

    #: scheduled, queued, running or being retried: keep waiting
    PENDING = "pending"
    #: a task stored its result / a sub-flow finished successfully
    SUCCEEDED = "succeeded"
    #: a task failed for good (retries exhausted) / a sub-flow failed
    FAILED = "failed"


class Ports(Protocol):
    """The caller's side of a dispatcher step. Every method may be called zero or more times."""

    def node_status(self, kind: NodeKind, name: str, node_id: str) -> NodeStatus:
        """State of an active node instance (``kind`` tells a task from a sub-flow run)."""
        ...

    def task_result(self, task_name: str, task_id: str) -> Any:
        """The stored result of a finished task instance (read through its storage)."""
        ...

    def subflow_finished_nodes(self, flow_name: str, run_id: str) -> Mapping[str, Sequence[str]]:
        """``finished_nodes`` of a finished sub-flow run: ``{node name: [ids]}`` in finishing order.

        Only that run's own nodes; the engine recurses into nested sub-flows itself (for
        ``propagate_finished``/``propagate_compound_finished`` and ``flow/Task`` conditions).
        """
        ...

    def foreach_items(self, function: ImportRef, node_args: Any, parent: Mapping[str, Any]) -> Iterable[Any]:
        """Import ``function`` and return ``function(storage_pool, node_args)``.

        ``parent`` is the mapping of the edge combination that fired (source name -> id), so the
        caller can build a storage pool that reads those parents' results.
        """
        ...

    def new_id(self, kind: NodeKind, name: str) -> str:
        """A fresh id for a task instance or a sub-flow run (a Celery task id in the runtime)."""
        ...

    def throttle_countdown(self, kind: NodeKind, name: str, interval: float) -> float | None:
        """Seconds to delay this start so starts of ``name`` are ``interval`` seconds apart.

        Called once per start of a node whose configuration has ``throttling``; the caller
        reserves the slot (across processes in the runtime). None or 0 means start now.
        """
        ...

    def load_predicate(self, module: str, name: str) -> Callable[..., Any]:
        """Import a predicate function (the caller applies its allowed-module policy)."""
        ...

    def load_strategy(self, module: str, name: str) -> Callable[..., Any]:
        """Import a sampling strategy function."""
        ...

    def selective_run(
        self,
        function: ImportRef,
        *,
        flow_name: str,
        node_name: str,
        node_args: Any,
        task_names: Sequence[str],
        parent: Mapping[str, Any],
    ) -> str | None:
        """Call a task's ``selective_run_function(flow_name, node_name, node_args, task_names, storage_pool)``.

        None means "run the task"; a task id means "reuse that earlier result as if the task had
        finished now". ``parent`` is what the task would have been given as its parent.
        """
        ...
