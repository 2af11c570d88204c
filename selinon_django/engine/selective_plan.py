"""The plan of a selective run: which edges fire and which of their destinations start.

A selective run (``run_flow_selective`` or an edge-level ``selective:``) starts only the part
of a flow that leads to the requested tasks. :func:`selinon_django.engine.selective.compute_selective`
works the plan out once, backwards from the targets; the dispatcher step only *follows* it.
The plan travels in the dispatcher message (and is handed to sub-flows on the selective path),
so it must survive a JSON round trip: :meth:`SelectivePlan.to_dict` / :meth:`SelectivePlan.from_dict`.

JSON shape (edge indices become strings because JSON object keys are strings)::

    {"task_names": ["Task2"], "follow_subflows": false, "run_subsequent": false,
     "flows": {"flow1": {"edges": {"0": ["Task1"], "1": ["Task2"]},
                         "subsequent_edges": []}}}

Semantics the dispatcher gives the plan of the flow it runs (``plan.flows[flow_name]``):

- an edge listed in ``edges`` fires (condition still evaluated) and starts only the listed
  destinations; a task destination that is not a target is a *prerequisite*: its
  ``selective_run_function`` may answer an earlier task id to reuse instead of running it;
- an edge listed in ``subsequent_edges`` (only filled when ``run_subsequent``) fires as in a
  normal run, starting all its destinations, and never consults ``selective_run_function``;
- every other edge is omitted (traced as ``SELECTIVE_OMIT_EDGE``);
- a sub-flow started by a listed edge receives the same plan when the plan has an entry for
  that sub-flow (it leads to a target); otherwise it runs in full (no plan).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class FlowPlan:
    """The part of one flow that a selective run fires."""

    #: edge index -> destination names to start (order and repetition as in the edge's ``to``)
    edges: Mapping[int, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    #: edges downstream of the targets that fire normally (``run_subsequent``)
    subsequent_edges: frozenset[int] = frozenset()

    def fires(self, edge_index: int) -> bool:
        """Whether the edge is part of the selective run at all."""
        return edge_index in self.edges or edge_index in self.subsequent_edges

    def to_dict(self) -> dict[str, Any]:
        return {
            "edges": {str(index): list(names) for index, names in sorted(self.edges.items())},
            "subsequent_edges": sorted(self.subsequent_edges),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FlowPlan:
        edges = {int(index): tuple(names) for index, names in (data.get("edges") or {}).items()}
        return cls(
            edges=MappingProxyType(edges),
            subsequent_edges=frozenset(int(i) for i in data.get("subsequent_edges") or ()),
        )


@dataclass(frozen=True)
class SelectivePlan:
    """A whole selective run: the targets, the flags, and a :class:`FlowPlan` per flow involved."""

    task_names: tuple[str, ...]
    follow_subflows: bool = False
    run_subsequent: bool = False
    flows: Mapping[str, FlowPlan] = field(default_factory=lambda: MappingProxyType({}))

    def for_flow(self, flow_name: str) -> FlowPlan | None:
        """The plan of ``flow_name``, or None when the run does not reach into that flow."""
        return self.flows.get(flow_name)

    def is_target(self, node_name: str) -> bool:
        return node_name in self.task_names

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_names": list(self.task_names),
            "follow_subflows": self.follow_subflows,
            "run_subsequent": self.run_subsequent,
            "flows": {name: plan.to_dict() for name, plan in sorted(self.flows.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SelectivePlan:
        return cls(
            task_names=tuple(data.get("task_names") or ()),
            follow_subflows=bool(data.get("follow_subflows", False)),
            run_subsequent=bool(data.get("run_subsequent", False)),
            flows=MappingProxyType(
                {name: FlowPlan.from_dict(plan) for name, plan in (data.get("flows") or {}).items()}
            ),
        )

    @classmethod
    def coerce(cls, value: SelectivePlan | Mapping[str, Any] | None) -> SelectivePlan | None:
        """Accept a plan, its JSON dict (as found in a message) or None/False/empty."""
        if value is None or value is False:
            return None
        if isinstance(value, SelectivePlan):
            return value
        if not value:
            return None
        return cls.from_dict(value)
