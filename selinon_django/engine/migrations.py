"""Migrations: carrying the state of running flows over to a changed flow graph.

A running flow's state names edges by their index (``waiting_edges``, ``triggered_edges``). When
the YAML changes while flows are in flight, those indices may point at other edges, or at none.
A *migration* says, per changed flow, how old edge indices map to new ones and which changes
make a running flow behave differently from a fresh one (it is then *tainted*). This module is
pure: it holds migrations, reads and writes Selinon's ``N.json`` files, and applies a chain of
migrations to a state. Where migrations are stored (rows, files) and what a tainted flow then
does (fail, retry, go on) is the runtime's business.

Computing (:func:`~selinon_django.engine.migration_plan.diff_flows`,
:func:`~selinon_django.engine.migration_plan.generate_migration`, in the planning module that
also owns edge matching, so the diff pages pair edges exactly as migrations do)
------------------------------------------------------------------------------------------

Only the edges' ``from`` and ``to``, compared as sets, matter: conditions, ``foreach`` and the
like change what a run does, not where its state points. Fallbacks (``failures``) are evaluated
from the current configuration when needed and are not subject to migrations. Each old edge is
paired with the new edge with the same sources and destinations (the k-th with the k-th). Then:

- ``tainted_edges``: old edges with no identical new edge (removed, or destinations changed);
- ``tainting_nodes``: new edges with no identical old edge and at least one source, with those
  sources (the flow is tainted when they all finished already: the edge would have been looked
  at, and "the dispatcher does not traverse the graph backwards");
- ``translation``: old index -> new index for every edge that moved, and for every tainted edge
  the new edge with the same sources (``None`` when there is none). Indices that stay are left
  out, as in Selinon's files.

Fixes over Selinon 1.4 (see "Do better" 4 of the reference notes): an edge whose destinations
changed is translated to the new edge with the same sources (Selinon computes that and then
overwrites it with ``null``, dropping a waiting edge); a change that only renumbers edges is a
migration (Selinon writes nothing and running flows point at the wrong edges); only the flows
that changed are written.

Applying (:func:`apply_migrations`), one version at a time, as Selinon does
--------------------------------------------------------------------------

For a migration with an entry for the flow, and a state that has waiting or triggered edges:

1. a triggered edge that is a tainted edge taints the flow;
2. waiting and triggered edges are translated (an edge translated to ``None`` is dropped);
3. a new edge whose sources have all finished taints the flow;
4. a new edge whose sources are all active, or all finished or active with at least one still
   active, is added to ``waiting_edges`` so it fires when they finish. (Selinon adds it only
   when *all* sources are active and silently loses it otherwise; with one source finished and
   one active, adding it reproduces exactly what the new graph would have done.)

Unlike Selinon, a tainted flow does not stop the chain: every migration is applied (Selinon
stops at the first FAIL/RETRY, and crashes on renumbered triggered edges even under IGNORE),
and the outcome carries the strongest strategy of the chain's migrations that change the flow
(FAIL over RETRY over IGNORE), as the documentation promises. The caller acts on it only when
the outcome is tainted.
"""
from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from selinon_django.config.model import freeze, thaw
from selinon_django.errors import MigrationSkew

__all__ = [
    "FlowMigration",
    "Migration",
    "MigrationOutcome",
    "MigrationStep",
    "TaintedEdge",
    "TaintedFlowStrategy",
    "apply_migrations",
    "check_skew",
    "migration_file_name",
    "migration_from_json",
    "migration_to_json",
    "parse_migration_file_name",
    "select_chain",
]


class TaintedFlowStrategy(StrEnum):
    """What happens to a flow a migration taints: go on (traced), start again, or fail."""

    IGNORE = "IGNORE"
    RETRY = "RETRY"
    FAIL = "FAIL"

    @property
    def rank(self) -> int:
        """Impact order: IGNORE < RETRY < FAIL."""
        return _RANKS[self]

    @classmethod
    def parse(cls, value: str | TaintedFlowStrategy) -> TaintedFlowStrategy:
        """From a file or a command line (case-insensitive); ValueError for anything else."""
        if isinstance(value, TaintedFlowStrategy):
            return value
        try:
            return cls(str(value).upper())
        except ValueError:
            options = ", ".join(member.value for member in cls)
            raise ValueError(f"unknown tainted flow strategy {value!r} (expected one of {options})") from None

    @classmethod
    def strongest(cls, strategies: Iterable[TaintedFlowStrategy]) -> TaintedFlowStrategy:
        """The strategy with the highest impact (IGNORE when there is none)."""
        return max(strategies, key=lambda strategy: strategy.rank, default=cls.IGNORE)


_RANKS = {TaintedFlowStrategy.IGNORE: 1, TaintedFlowStrategy.RETRY: 2, TaintedFlowStrategy.FAIL: 3}


@dataclass(frozen=True)
class TaintedEdge:
    """An old edge that has no identical edge in the new graph (shown in traces)."""

    from_: tuple[str, ...]
    to: tuple[str, ...]
    #: the old edge's condition in YAML shape, for humans reading traces ("condition_str" in files)
    condition: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"from": list(self.from_), "to": list(self.to), "condition_str": thaw(self.condition)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> TaintedEdge:
        data = data or {}
        return cls(
            from_=tuple(sorted(data.get("from") or ())),
            to=tuple(sorted(data.get("to") or ())),
            condition=freeze(data.get("condition_str")),
        )


@dataclass(frozen=True)
class FlowMigration:
    """How one flow's edges changed between two versions of the graph."""

    #: old edge index -> new index (None: dropped); an index not listed stays the same
    translation: Mapping[int, int | None] = field(default_factory=lambda: MappingProxyType({}))
    #: old edge index -> the edge; a run that already fired it is tainted
    tainted_edges: Mapping[int, TaintedEdge] = field(default_factory=lambda: MappingProxyType({}))
    #: new edge index -> its sources (sorted); a run in which they all finished is tainted
    tainting_nodes: Mapping[int, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    def translate(self, old_index: int) -> int | None:
        """The new index of an old edge (None when it no longer exists)."""
        return self.translation.get(old_index, old_index)

    def to_dict(self) -> dict[str, Any]:
        """Selinon's JSON shape (string keys)."""
        return {
            "translation": {str(old): new for old, new in sorted(self.translation.items())},
            "tainted_edges": {str(index): edge.to_dict() for index, edge in sorted(self.tainted_edges.items())},
            "tainting_nodes": {str(index): list(nodes) for index, nodes in sorted(self.tainting_nodes.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FlowMigration:
        translation = {
            int(old): (None if new is None else int(new)) for old, new in (data.get("translation") or {}).items()
        }
        tainted = {
            int(index): TaintedEdge.from_dict(edge) for index, edge in (data.get("tainted_edges") or {}).items()
        }
        tainting = {
            int(index): tuple(sorted(nodes or ())) for index, nodes in (data.get("tainting_nodes") or {}).items()
        }
        return cls(
            translation=MappingProxyType(translation),
            tainted_edges=MappingProxyType(tainted),
            tainting_nodes=MappingProxyType(tainting),
        )

    def same_changes(self, other: FlowMigration) -> bool:
        """Equal as far as applying goes (tainted edges compared by index only)."""
        return (
            dict(self.translation) == dict(other.translation)
            and set(self.tainted_edges) == set(other.tainted_edges)
            and dict(self.tainting_nodes) == dict(other.tainting_nodes)
        )


@dataclass(frozen=True)
class Migration:
    """One migration version: the changed flows, the tainted flow strategy, optional metadata."""

    flows: Mapping[str, FlowMigration]
    tainted_flow_strategy: TaintedFlowStrategy = TaintedFlowStrategy.IGNORE
    #: who/where/when generated it (``_meta`` in files); never affects applying
    meta: Mapping[str, Any] | None = None

    def to_dict(self, *, include_meta: bool = True) -> dict[str, Any]:
        """Selinon's ``N.json`` content."""
        result: dict[str, Any] = {
            "migration": {name: flow.to_dict() for name, flow in sorted(self.flows.items())},
            "tainted_flow_strategy": self.tainted_flow_strategy.value,
        }
        if include_meta and self.meta is not None:
            result["_meta"] = thaw(self.meta)
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Migration:
        if not isinstance(data, Mapping) or not isinstance(data.get("migration"), Mapping):
            raise ValueError("a migration needs a 'migration' object")
        meta = data.get("_meta")
        return cls(
            flows=MappingProxyType({name: FlowMigration.from_dict(flow) for name, flow in data["migration"].items()}),
            tainted_flow_strategy=TaintedFlowStrategy.parse(data.get("tainted_flow_strategy") or "IGNORE"),
            meta=freeze(meta) if meta is not None else None,
        )

    def same_changes(self, other: Migration) -> bool:
        """Whether two migrations change the same flows the same way (strategy and meta aside).

        Generating the same migration twice would apply it twice to running flows; the caller
        compares a new migration with the latest one and refuses an identical one.
        """
        if set(self.flows) != set(other.flows):
            return False
        return all(self.flows[name].same_changes(other.flows[name]) for name in self.flows)


def migration_to_json(migration: Migration, *, include_meta: bool = True) -> str:
    """The text of an ``N.json`` file (stable: sorted keys, indented, trailing newline)."""
    return json.dumps(migration.to_dict(include_meta=include_meta), indent=2, sort_keys=True) + "\n"


def migration_from_json(text: str | bytes | Mapping[str, Any]) -> Migration:
    """Read an ``N.json`` file's text (ours or Selinon's), or its already parsed content."""
    data = text if isinstance(text, Mapping) else json.loads(text)
    return Migration.from_dict(data)


_FILE_NAME = re.compile(r"^([0-9]+)\.json$")


def migration_file_name(version: int) -> str:
    """``N.json``: migration versions start at 1 (0 means "no migrations")."""
    if version < 1:
        raise ValueError("migration versions start at 1")
    return f"{version}.json"


def parse_migration_file_name(name: str) -> int | None:
    """The version of an ``N.json`` file name, None for any other file (hidden files included)."""
    match = _FILE_NAME.match(name)
    return int(match.group(1)) if match else None


def check_skew(message_version: int | None, known_version: int) -> None:
    """Refuse a message from a newer deployment than this worker's migrations know.

    Such a message must be put back for a newer worker (``MigrationSkew``), without counting as
    a retry of the flow. ``None`` (a message that never went through migrations) is fine.
    """
    if message_version is not None and message_version > known_version:
        raise MigrationSkew(
            f"message migration version {message_version} is newer than the latest known here ({known_version})"
        )


def select_chain(available: Mapping[int, Migration], from_version: int, to_version: int) -> list[Migration]:
    """The migrations ``from_version + 1 .. to_version`` in order; ``MigrationSkew`` if one is missing."""
    check_skew(from_version, to_version)
    chain = []
    for version in range(from_version + 1, to_version + 1):
        if version not in available:
            raise MigrationSkew(f"migration {version} is not available, cannot migrate from {from_version}")
        chain.append(available[version])
    return chain


@dataclass(frozen=True)
class MigrationStep:
    """What one migration version did to one flow's state (the details of a MIGRATION trace)."""

    version: int
    strategy: TaintedFlowStrategy
    #: the migration changes this flow and the state had edges to migrate
    applied: bool = False
    #: triggered edges that were tainted: old index -> the edge
    tainted_edges: Mapping[int, TaintedEdge] = field(default_factory=lambda: MappingProxyType({}))
    #: new edges whose sources had all finished: new index -> sources
    tainting_nodes: Mapping[int, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    #: edges of the state that moved or were dropped: old index -> new index or None
    translated: Mapping[int, int | None] = field(default_factory=lambda: MappingProxyType({}))
    #: new edges added to ``waiting_edges`` because their sources are still running
    added_waiting_edges: tuple[int, ...] = ()

    @property
    def tainted(self) -> bool:
        return bool(self.tainted_edges) or bool(self.tainting_nodes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "migration_version": self.version,
            "tainted_flow_strategy": self.strategy.value,
            "applied": self.applied,
            "tainted": self.tainted,
            "tainted_edges": {str(index): edge.to_dict() for index, edge in sorted(self.tainted_edges.items())},
            "tainting_nodes": {str(index): list(nodes) for index, nodes in sorted(self.tainting_nodes.items())},
            "translated_edges": {str(old): new for old, new in sorted(self.translated.items())},
            "added_waiting_edges": list(self.added_waiting_edges),
        }


@dataclass(frozen=True)
class MigrationOutcome:
    """A state carried through a chain of migrations.

    ``strategy`` is the strongest strategy of the chain's migrations that change this flow; the
    runtime applies it only when ``tainted`` (IGNORE: trace and go on; RETRY: start the flow
    again; FAIL: fail the flow, leaving running nodes running).
    """

    new_state: dict[str, Any]
    #: the migration version the state is at now
    version: int
    tainted: bool
    strategy: TaintedFlowStrategy
    steps: tuple[MigrationStep, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether any migration of the chain touched this flow's state."""
        return any(step.applied for step in self.steps)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able details for the MIGRATION / MIGRATION_TAINTED_FLOW trace events."""
        return {
            "migration_version": self.version,
            "tainted": self.tainted,
            "tainted_flow_strategy": self.strategy.value,
            "steps": [step.to_dict() for step in self.steps],
        }


def _dedupe(indices: Iterable[int | None]) -> list[int]:
    return [index for index in dict.fromkeys(indices) if index is not None]


def _names_with_instances(finished: Mapping[str, Sequence[Any]]) -> set[str]:
    return {name for name, ids in finished.items() if ids}


def _apply_one(
    state: dict[str, Any], flow_migration: FlowMigration, version: int, strategy: TaintedFlowStrategy
) -> MigrationStep:
    """Apply one migration to ``state`` in place and say what it did."""
    waiting: list[int] = list(state.get("waiting_edges") or [])
    triggered: list[int] = list(state.get("triggered_edges") or [])

    tainted_edges = {
        index: flow_migration.tainted_edges[index] for index in triggered if index in flow_migration.tainted_edges
    }
    translated = {
        index: flow_migration.translate(index)
        for index in dict.fromkeys(waiting + triggered)
        if flow_migration.translate(index) != index
    }
    waiting = _dedupe(flow_migration.translate(index) for index in waiting)
    triggered = _dedupe(flow_migration.translate(index) for index in triggered)

    finished = _names_with_instances(state.get("finished_nodes") or {})
    active = {node["name"] for node in state.get("active_nodes") or []}
    tainting: dict[int, tuple[str, ...]] = {}
    added: list[int] = []
    for edge_index, sources in sorted(flow_migration.tainting_nodes.items()):
        source_set = set(sources)
        if not source_set:
            continue
        if source_set <= finished:
            tainting[edge_index] = sources
        if source_set <= finished | active and source_set & active and edge_index not in waiting:
            waiting.append(edge_index)
            added.append(edge_index)

    state["waiting_edges"] = waiting
    state["triggered_edges"] = triggered
    return MigrationStep(
        version=version,
        strategy=strategy,
        applied=True,
        tainted_edges=MappingProxyType(tainted_edges),
        tainting_nodes=MappingProxyType(tainting),
        translated=MappingProxyType(translated),
        added_waiting_edges=tuple(added),
    )


def apply_migrations(
    state: Mapping[str, Any],
    flow_name: str,
    from_version: int,
    chain: Sequence[Migration],
) -> MigrationOutcome:
    """Carry ``state`` (the five keys) of a ``flow_name`` run at ``from_version`` through ``chain``.

    ``chain`` holds the migrations ``from_version + 1``, ``from_version + 2``, ... in order (see
    :func:`select_chain`). The input state is not modified.
    """
    new_state = copy.deepcopy(dict(state))
    steps: list[MigrationStep] = []
    flow_strategies: list[TaintedFlowStrategy] = []
    for offset, migration in enumerate(chain):
        version = from_version + offset + 1
        strategy = migration.tainted_flow_strategy
        flow_migration = migration.flows.get(flow_name)
        if flow_migration is None:
            steps.append(MigrationStep(version=version, strategy=strategy))
            continue
        flow_strategies.append(strategy)
        if not new_state.get("waiting_edges") and not new_state.get("triggered_edges"):
            # Not started yet: the run will start on the new graph as it is.
            steps.append(MigrationStep(version=version, strategy=strategy))
            continue
        steps.append(_apply_one(new_state, flow_migration, version, strategy))

    return MigrationOutcome(
        new_state=new_state,
        version=from_version + len(chain),
        tainted=any(step.tainted for step in steps),
        strategy=TaintedFlowStrategy.strongest(flow_strategies),
        steps=tuple(steps),
    )
