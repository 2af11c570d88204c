"""Migration planning: which edges of two graphs are one edge, how stored migrations link to
revisions, and which chain of migrations carries a flow from one revision to another.

These three questions used to be answered separately by the runtime, the admin's revision diff,
the REST API's revision diff and ``selinon_migrate``, and the answers drifted apart (an edited
edge was "changed" on one page and "removed and added" in the API). They are answered here, once,
in pure Python; the callers only fetch rows and show the answers.

Edge matching (:func:`match_edges`, :func:`pair_edge_data`)
------------------------------------------------------------

Edges have no name: an edge of the old graph and one of the new graph are *the same edge* when
they join the same nodes (``from`` and ``to`` compared as sets). With several such edges the
k-th of the old graph pairs with the k-th of the new one. A pair is ``"same"`` when the edge's
normalised data (:func:`~selinon_django.config.normalise.edge_data`, what the content hash and
the stored revision hold: condition, foreach, selective) is equal, else ``"changed"``; an edge
without a partner is ``"added"`` or ``"removed"``. Fallbacks (``failures``) pair the same way by
their nodes and fallback, and differ by condition.

A migration (:func:`diff_flows`) looks only at where a run's state points: a paired edge, same or
changed, is the same edge for it; an unpaired old edge is *tainted*, an unpaired new edge with
sources is *tainting* (see :mod:`selinon_django.engine.migrations` for what they do to a run).

Revision links (:class:`RevisionsByHash`, :meth:`StoredMigration.link`)
------------------------------------------------------------------------

A migration row names its two revisions, or only their content hashes when it was generated from
files (or read from a Selinon directory) before those configurations were loaded. Such a row is
linked by hash when it is used, and ``selinon_migrate`` links the files it compares the same
way when it stores a row, by one rule: each side is the *newest* revision holding the hash. A
hash held by several revisions means a configuration was loaded again (a rollback: A, B, A, B).
Runs on the second A must still go through the A -> B migration, so it has to lead past them, to
the newest B; and every copy of A has A's graph, which is all the walk compares. (The runtime
used to take the oldest copy for the *to* side, which made that migration "past" for runs on the
second A: they stayed there.)

The chain walk (:func:`plan_flow`)
----------------------------------

A run on revision R at migration version V follows the stored migrations after V, skipping those
that led to R already (:func:`in_past`). Each next version must exist, be linked, and have been
computed from the very graph the walk is on; the walk stops at the first that is not, or once it
reached the goal revision. The run then moves to the goal when the goal's graph of the flow is
the one the walk reached (a change of conditions only needs no migration), else to where the walk
got. The runtime moves runs along this plan; the admin's revision diff shows the same plan.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, TypeVar

from selinon_django.config.model import Edge, Failure, Flow, SystemConfig, freeze
from selinon_django.config.normalise import condition_data, edge_data, failure_data
from selinon_django.engine.migrations import FlowMigration, Migration, TaintedEdge, TaintedFlowStrategy

__all__ = [
    "ChainStop",
    "Change",
    "EdgeChange",
    "FailureChange",
    "FlowPlan",
    "Pairing",
    "RevisionRef",
    "RevisionsByHash",
    "StoredMigration",
    "changed_flows",
    "diff_flows",
    "generate_migration",
    "hashes_to_link",
    "in_past",
    "match_edges",
    "match_failures",
    "pair_edge_data",
    "pair_failure_data",
    "plan_flow",
]

Change = Literal["added", "removed", "changed", "same"]

_T = TypeVar("_T")


# --- edge matching -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pairing:
    """One item of the old list paired with one of the new list (positions; None: no partner)."""

    change: Change
    old: int | None
    new: int | None


def _pair(
    old: Sequence[_T], new: Sequence[_T], key: Callable[[_T], Hashable], same: Callable[[_T, _T], bool]
) -> tuple[Pairing, ...]:
    """The k-th old item with a key pairs with the k-th new item with that key.

    Order: the new list's items (same, changed, added) as they come, then the removed ones in the
    old list's order - the order both diff pages show.
    """
    remaining: dict[Hashable, list[int]] = {}
    for position, item in enumerate(old):
        remaining.setdefault(key(item), []).append(position)
    pairings: list[Pairing] = []
    for position, item in enumerate(new):
        candidates = remaining.get(key(item))
        if candidates:
            previous = candidates.pop(0)
            change: Change = "same" if same(old[previous], item) else "changed"
            pairings.append(Pairing(change, previous, position))
        else:
            pairings.append(Pairing("added", None, position))
    removed = sorted(position for positions in remaining.values() for position in positions)
    pairings.extend(Pairing("removed", position, None) for position in removed)
    return tuple(pairings)


def _edge_data_key(data: Mapping[str, Any]) -> Hashable:
    return frozenset(data.get("from") or ()), frozenset(data.get("to") or ())


def _failure_data_key(data: Mapping[str, Any]) -> Hashable:
    fallback = data.get("fallback")
    return frozenset(data.get("nodes") or ()), True if fallback is True else frozenset(fallback or ())


def pair_edge_data(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> tuple[Pairing, ...]:
    """Pair edges in their normalised shape (a stored revision's ``flow-definitions[].edges``)."""
    return _pair(old, new, _edge_data_key, lambda a, b: a == b)


def pair_failure_data(
    old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> tuple[Pairing, ...]:
    """Pair fallbacks in their normalised shape (``flow-definitions[].failures``)."""
    return _pair(old, new, _failure_data_key, lambda a, b: a == b)


@dataclass(frozen=True)
class EdgeChange:
    """An edge of either graph and what became of it."""

    change: Change
    old: Edge | None
    new: Edge | None

    @property
    def edge(self) -> Edge:
        """The new edge, or the old one when it was removed."""
        edge = self.new or self.old
        assert edge is not None
        return edge


@dataclass(frozen=True)
class FailureChange:
    """A fallback of either graph and what became of it."""

    change: Change
    old: Failure | None
    new: Failure | None


def _pick(items: Sequence[_T], position: int | None) -> _T | None:
    return None if position is None else items[position]


def match_edges(old: Sequence[Edge], new: Sequence[Edge]) -> tuple[EdgeChange, ...]:
    """Pair the edges of two versions of a flow (see the module docstring).

    Keys come from the edges themselves and contents from :func:`edge_data`, so the result is the
    one :func:`pair_edge_data` gives for the same flows' normalised data.
    """
    pairings = _pair(
        old, new, lambda edge: (frozenset(edge.from_), frozenset(edge.to)), lambda a, b: edge_data(a) == edge_data(b)
    )
    return tuple(EdgeChange(p.change, _pick(old, p.old), _pick(new, p.new)) for p in pairings)


def match_failures(old: Sequence[Failure], new: Sequence[Failure]) -> tuple[FailureChange, ...]:
    """Pair the fallbacks of two versions of a flow by their nodes and fallback."""
    pairings = _pair(old, new, lambda failure: _failure_data_key(failure_data(failure)),
                     lambda a, b: failure_data(a) == failure_data(b))
    return tuple(FailureChange(p.change, _pick(old, p.old), _pick(new, p.new)) for p in pairings)


# --- computing a migration ---------------------------------------------------------------------


def diff_flows(old: Flow, new: Flow) -> FlowMigration | None:
    """The migration of one flow from ``old`` to ``new`` edges; None when a run's state means the
    same on both (see :mod:`selinon_django.engine.migrations` for the fields)."""
    changes = match_edges(old.edges, new.edges)
    paired = [(c.old, c.new) for c in changes if c.old is not None and c.new is not None]
    removed = sorted((c.old for c in changes if c.new is None and c.old is not None), key=lambda e: e.index)
    added = sorted((c.new for c in changes if c.old is None and c.new is not None), key=lambda e: e.index)

    tainted = {
        edge.index: TaintedEdge(
            from_=tuple(sorted(set(edge.from_))),
            to=tuple(sorted(set(edge.to))),
            condition=freeze(condition_data(edge.condition)),
        )
        for edge in removed
    }
    tainting = {edge.index: tuple(sorted(set(edge.from_))) for edge in added if edge.from_}

    translation: dict[int, int | None] = {
        old_edge.index: new_edge.index for old_edge, new_edge in paired if old_edge.index != new_edge.index
    }
    # A changed edge continues as the new edge with the same sources: prefer one no other
    # changed edge took, so two changed edges with the same sources stay two edges.
    claimed: set[int] = set()
    for old_edge in removed:
        same_sources = [edge for edge in added if set(edge.from_) == set(old_edge.from_)]
        unclaimed = [edge for edge in same_sources if edge.index not in claimed]
        candidates = unclaimed or same_sources
        target: int | None = None
        if candidates:
            claimed.add(candidates[0].index)
            target = candidates[0].index
        if target != old_edge.index:
            translation[old_edge.index] = target

    if not translation and not tainted and not tainting:
        return None
    return FlowMigration(
        translation=MappingProxyType(translation),
        tainted_edges=MappingProxyType(tainted),
        tainting_nodes=MappingProxyType(tainting),
    )


def changed_flows(old: SystemConfig, new: SystemConfig) -> list[str]:
    """Flows of both configurations whose running flows need a migration (sorted).

    Flows present in only one of the two need none: a new flow has no running instances, a
    removed flow's runs cannot continue on a graph that no longer exists.
    """
    return [
        name for name in sorted(set(old.flows) & set(new.flows))
        if diff_flows(old.flows[name], new.flows[name]) is not None
    ]


def generate_migration(
    old: SystemConfig,
    new: SystemConfig,
    strategy: TaintedFlowStrategy | str = TaintedFlowStrategy.IGNORE,
    meta: Mapping[str, Any] | None = None,
) -> Migration | None:
    """The migration from ``old`` to ``new``, holding only the flows that changed (None: nothing
    needs migrating, and the caller reports "nothing to migrate")."""
    flows: dict[str, FlowMigration] = {}
    for name in sorted(set(old.flows) & set(new.flows)):
        flow_migration = diff_flows(old.flows[name], new.flows[name])
        if flow_migration is not None:
            flows[name] = flow_migration
    if not flows:
        return None
    return Migration(
        flows=MappingProxyType(flows),
        tainted_flow_strategy=TaintedFlowStrategy.parse(strategy),
        meta=freeze(meta) if meta is not None else None,
    )


# --- revision links ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RevisionRef:
    """A stored revision as planning needs it: its key, number, content hash and load time."""

    id: int
    number: int
    content_hash: str = ""
    created_at: datetime | None = None


class RevisionsByHash:
    """The stored revisions holding some content hashes, and the one rule that picks among them."""

    def __init__(self, revisions: Iterable[RevisionRef] = ()) -> None:
        self._newest: dict[str, RevisionRef] = {}
        for revision in revisions:
            newest = self._newest.get(revision.content_hash)
            if newest is None or revision.number > newest.number:
                self._newest[revision.content_hash] = revision

    def newest(self, content_hash: str) -> RevisionRef | None:
        """The revision a migration side with this content names: the newest holding it."""
        return self._newest.get(content_hash) if content_hash else None


@dataclass(frozen=True)
class StoredMigration:
    """A stored migration version with the revisions it links (rows never change)."""

    version: int
    migration: Migration
    from_revision: RevisionRef | None = None
    to_revision: RevisionRef | None = None
    from_hash: str = ""
    to_hash: str = ""
    created_at: datetime | None = None

    @property
    def linked(self) -> bool:
        """Whether both revisions are known (only then can it move a run)."""
        return self.from_revision is not None and self.to_revision is not None

    def missing_hashes(self) -> set[str]:
        """The content hashes to look up to link the sides that name no revision."""
        hashes = set()
        if self.from_revision is None and self.from_hash:
            hashes.add(self.from_hash)
        if self.to_revision is None and self.to_hash:
            hashes.add(self.to_hash)
        return hashes

    def link(self, revisions: RevisionsByHash) -> StoredMigration:
        """With the sides that name no revision found by content hash (see the module docstring)."""
        if self.linked:
            return self
        return replace(
            self,
            from_revision=self.from_revision or revisions.newest(self.from_hash),
            to_revision=self.to_revision or revisions.newest(self.to_hash),
        )


def hashes_to_link(migrations: Iterable[StoredMigration]) -> set[str]:
    """Every content hash that linking ``migrations`` needs looked up (one query for all)."""
    return {content_hash for migration in migrations for content_hash in migration.missing_hashes()}


# --- the chain walk ----------------------------------------------------------------------------


def in_past(migration: StoredMigration, revision: RevisionRef) -> bool:
    """Whether ``migration`` already led to ``revision`` (a run on it must not go through it).

    Runs record the version they start with only since migrations exist, so a run may have
    started on a newer revision than its ``migration_version`` says: migrations ending at or
    before its revision are past, and so, for a row that names no revision (an ``N.json`` read
    from a directory), are those stored before it.
    """
    if migration.to_revision is not None:
        return migration.to_revision.number <= revision.number
    return (
        migration.created_at is not None
        and revision.created_at is not None
        and migration.created_at <= revision.created_at
    )


StopKind = Literal["missing", "unlinked", "other_graph", "no_flow"]


@dataclass(frozen=True)
class ChainStop:
    """Why a walk stopped before the goal: the version expected next and the migration (if any)."""

    kind: StopKind
    version: int
    migration: StoredMigration | None = None

    def describe(self, flow_name: str, reached: RevisionRef) -> str:
        """In the revision numbers a person sees (traces and the admin say the same)."""
        if self.kind == "missing":
            return f"migration {self.version} is missing"
        if self.kind == "unlinked":
            return f"migration {self.version} is not linked to stored revisions"
        if self.kind == "other_graph":
            source = self.migration.from_revision if self.migration is not None else None
            number = source.number if source is not None else "?"
            return (
                f"migration {self.version} was computed from another graph of {flow_name} (revision {number}) "
                f"than revision {reached.number} has"
            )
        target = self.migration.to_revision if self.migration is not None else None
        number = target.number if target is not None else "?"
        return f"revision {number} of migration {self.version} has no flow {flow_name}"


@dataclass(frozen=True)
class FlowPlan:
    """How runs of one flow get from a revision towards a goal revision."""

    flow_name: str
    #: the migration version the chain starts after
    base: int
    #: the migrations applied, in order
    chain: tuple[StoredMigration, ...]
    #: the revision the walk got to
    reached: RevisionRef
    #: where a run moves: the goal when its graph is the one reached, else ``reached``
    target: RevisionRef
    #: whether the goal's graph of the flow is the one reached
    complete: bool
    stop: ChainStop | None = None

    @property
    def versions(self) -> list[int]:
        """The versions of the chain that change this flow."""
        return [m.version for m in self.chain if self.flow_name in m.migration.flows]

    @property
    def problem(self) -> str:
        """Why the walk stopped before the goal ("" when nothing stored comes next)."""
        return "" if self.stop is None else self.stop.describe(self.flow_name, self.reached)


def plan_flow(
    flow_name: str,
    start: RevisionRef,
    version: int,
    migrations: Sequence[StoredMigration],
    goal: RevisionRef,
    config_of: Callable[[int], SystemConfig],
) -> FlowPlan:
    """The plan of a ``flow_name`` run on ``start`` at migration ``version`` towards ``goal``.

    ``migrations``: the stored ones in version order, linked (:meth:`StoredMigration.link`);
    ``config_of``: a revision's configuration by id.
    """
    base = max([version] + [m.version for m in migrations if m.version > version and in_past(m, start)])
    flow = config_of(start.id).flows.get(flow_name)
    if flow is None:
        return FlowPlan(flow_name, base, (), start, start, complete=False)
    chain: list[StoredMigration] = []
    reached, stop, expected = start, None, base + 1
    for migration in (m for m in migrations if m.version > base):
        if reached.number >= goal.number:
            break
        if migration.version != expected:
            stop = ChainStop("missing", expected)
            break
        if migration.from_revision is None or migration.to_revision is None:
            stop = ChainStop("unlinked", expected, migration)
            break
        source = config_of(migration.from_revision.id).flows.get(flow_name)
        end = config_of(migration.to_revision.id).flows.get(flow_name)
        if source is None or diff_flows(flow, source) is not None:
            stop = ChainStop("other_graph", expected, migration)
            break
        if end is None:
            stop = ChainStop("no_flow", expected, migration)
            break
        chain.append(migration)
        flow, reached, expected = end, migration.to_revision, expected + 1
    newest = config_of(goal.id).flows.get(flow_name)
    complete = newest is not None and diff_flows(flow, newest) is None
    return FlowPlan(flow_name, base, tuple(chain), reached, goal if complete else reached, complete, stop)
