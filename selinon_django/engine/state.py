"""The state of one flow run, exactly as Selinon carries it in the dispatcher message.

The state is immutable on purpose: a dispatcher step builds a new state and never touches the
one it was given, so a step that fails half-way leaves nothing behind (the caller simply keeps
the old state and retries). :meth:`FlowState.to_dict` produces Selinon's JSON shape, key for key,
so a state can be stored in a row, put in a message and compared with the reference.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class NodeRef:
    """One node instance of a flow run: its name (task or sub-flow) and its id."""

    name: str
    id: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "id": self.id}


def _freeze_ids(mapping: Mapping[str, Iterable[str]] | None) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType({name: tuple(ids) for name, ids in (mapping or {}).items() if ids})


@dataclass(frozen=True)
class FlowState:
    """The five keys of Selinon's dispatcher state.

    ``finished_nodes`` keeps instances in finishing order (conditions and ``propagate_finished``
    depend on it); ``failed_nodes`` holds failed instances not yet handled by a fallback.
    Edges are named by their index in the flow's edge list.
    """

    active_nodes: tuple[NodeRef, ...] = ()
    finished_nodes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    failed_nodes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    waiting_edges: tuple[int, ...] = ()
    triggered_edges: tuple[int, ...] = ()

    @classmethod
    def build(
        cls,
        *,
        active_nodes: Iterable[NodeRef] = (),
        finished_nodes: Mapping[str, Iterable[str]] | None = None,
        failed_nodes: Mapping[str, Iterable[str]] | None = None,
        waiting_edges: Iterable[int] = (),
        triggered_edges: Iterable[int] = (),
    ) -> FlowState:
        """Build a state from plain (mutable) containers, copying them."""
        return cls(
            active_nodes=tuple(active_nodes),
            finished_nodes=_freeze_ids(finished_nodes),
            failed_nodes=_freeze_ids(failed_nodes),
            waiting_edges=tuple(waiting_edges),
            triggered_edges=tuple(triggered_edges),
        )

    @property
    def is_empty(self) -> bool:
        """True for the state of a flow whose first step has not run yet."""
        return not (
            self.active_nodes or self.finished_nodes or self.failed_nodes or self.waiting_edges or self.triggered_edges
        )

    def to_dict(self) -> dict[str, Any]:
        """Selinon's JSON shape of the state."""
        return {
            "active_nodes": [node.to_dict() for node in self.active_nodes],
            "finished_nodes": {name: list(ids) for name, ids in self.finished_nodes.items()},
            "failed_nodes": {name: list(ids) for name, ids in self.failed_nodes.items()},
            "waiting_edges": list(self.waiting_edges),
            "triggered_edges": list(self.triggered_edges),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> FlowState:
        """Read Selinon's JSON shape (None or ``{}`` give the empty state)."""
        data = data or {}
        return cls.build(
            active_nodes=[NodeRef(name=node["name"], id=node["id"]) for node in data.get("active_nodes") or ()],
            finished_nodes=data.get("finished_nodes") or {},
            failed_nodes=data.get("failed_nodes") or {},
            waiting_edges=[int(i) for i in data.get("waiting_edges") or ()],
            triggered_edges=[int(i) for i in data.get("triggered_edges") or ()],
        )
