"""Migration planning, pure: edge pairing, the revision-link rule, the chain walk."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from selinon_django.config.model import Edge, Predicate
from selinon_django.config.normalise import edge_data
from selinon_django.engine.migration_plan import (
    RevisionRef,
    RevisionsByHash,
    StoredMigration,
    generate_migration,
    hashes_to_link,
    in_past,
    match_edges,
    pair_edge_data,
    plan_flow,
)
from selinon_django.engine.migrations import Migration
from tests.unit.engine.test_migrations import make_config, make_flow

T0 = datetime(2024, 1, 1, tzinfo=UTC)

#: revision id -> its flow1; ids and numbers are equal here
V1 = make_flow("flow1", [((), ("Task1",)), (("Task1",), ("Task2",))])
V2 = make_flow("flow1", [((), ("Task1",)), (("Task1",), ("Task3",))])
V3 = make_flow("flow1", [((), ("Task1",)), (("Task1",), ("Task3",)), (("Task3",), ("Task4",))])
CONFIGS = {1: make_config(V1), 2: make_config(V2), 3: make_config(V3), 4: make_config(V3)}


def ref(number: int, content_hash: str = "") -> RevisionRef:
    return RevisionRef(number, number, content_hash or f"h{number}", T0 + timedelta(minutes=number))


def stored(version: int, old: int, new: int, *, linked: bool = True) -> StoredMigration:
    migration = generate_migration(CONFIGS[old], CONFIGS[new])
    assert migration is not None
    return StoredMigration(
        version=version, migration=migration,
        from_revision=ref(old) if linked else None, to_revision=ref(new) if linked else None,
        from_hash=f"h{old}", to_hash=f"h{new}", created_at=T0 + timedelta(minutes=new, seconds=30),
    )


def test_an_edited_edge_pairs_as_changed_on_objects_and_on_normalised_data() -> None:
    edited = Edge(index=1, from_=("Task1",), to=("Task2",), condition=Predicate(name="alwaysFalse"),
                  condition_default=False)
    new = [V1.edges[0], edited, Edge(index=2, from_=("Task1",), to=("Task3",))]
    changes = match_edges(V1.edges, new)
    assert [(c.change, c.old, c.new) for c in changes] == [
        ("same", V1.edges[0], new[0]), ("changed", V1.edges[1], edited), ("added", None, new[2]),
    ]
    pairings = pair_edge_data([edge_data(e) for e in V1.edges], [edge_data(e) for e in new])
    assert [(p.change, p.old, p.new) for p in pairings] == [("same", 0, 0), ("changed", 1, 1), ("added", None, 2)]
    # for a migration, the changed edge is the same edge: nothing to migrate
    assert generate_migration(make_config(V1), make_config(make_flow("flow1", new))) is not None  # the new edge
    assert generate_migration(make_config(V1), make_config(make_flow("flow1", new[:2]))) is None


def test_a_hash_loaded_twice_links_its_newest_revision_on_both_sides() -> None:
    revisions = RevisionsByHash([ref(2, "same"), ref(5, "same"), ref(3, "other")])
    assert revisions.newest("same") == ref(5, "same") and revisions.newest("other") == ref(3, "other")
    assert revisions.newest("") is None and revisions.newest("missing") is None
    unlinked = StoredMigration(1, Migration(flows={}), from_hash="other", to_hash="same")
    linked = unlinked.link(revisions)
    assert (linked.from_revision, linked.to_revision, linked.linked) == (ref(3, "other"), ref(5, "same"), True)
    assert hashes_to_link([unlinked, linked]) == {"same", "other"}


def test_a_run_on_a_configuration_loaded_again_still_follows_the_migration() -> None:
    """A (1), B (2), A (3), B (4), and a migration A -> B read from files before any was loaded:
    it leads to revision 4, so a run on revision 3 is not past it and moves on to B."""
    configs = {1: CONFIGS[1], 2: CONFIGS[2], 3: CONFIGS[1], 4: CONFIGS[2]}
    revisions = RevisionsByHash([ref(1, "A"), ref(2, "B"), ref(3, "A"), ref(4, "B")])
    unlinked = replace(stored(1, 1, 2, linked=False), from_hash="A", to_hash="B", created_at=T0)
    [linked] = [unlinked.link(revisions)]
    plan = plan_flow("flow1", ref(3, "A"), 0, [linked], ref(4, "B"), configs.__getitem__)
    assert (plan.versions, plan.target, plan.complete) == ([1], ref(4, "B"), True)


def test_plan_walks_the_linked_chain_to_the_goal() -> None:
    chain = [stored(1, 1, 2), stored(2, 2, 3)]
    plan = plan_flow("flow1", ref(1), 0, chain, ref(4), CONFIGS.__getitem__)
    # revision 4 has revision 3's graph: the run moves on to it
    assert (plan.versions, plan.reached, plan.target, plan.complete, plan.problem) == ([1, 2], ref(3), ref(4), True, "")
    # a goal reached half-way stops the walk there
    plan = plan_flow("flow1", ref(1), 0, chain, ref(2), CONFIGS.__getitem__)
    assert (plan.versions, plan.target, plan.complete) == ([1], ref(2), True)


def test_plan_skips_migrations_that_led_to_the_run_and_says_where_a_chain_breaks() -> None:
    chain = [stored(1, 1, 2), stored(2, 2, 3)]
    plan = plan_flow("flow1", ref(2), 0, chain, ref(3), CONFIGS.__getitem__)
    assert (plan.base, plan.versions, plan.target) == (1, [2], ref(3))
    # computed from revision 2's graph: a run on revision 1 cannot follow it
    plan = plan_flow("flow1", ref(1), 0, [stored(1, 2, 3)], ref(3), CONFIGS.__getitem__)
    assert (plan.chain, plan.target, plan.complete) == ((), ref(1), False)
    assert plan.problem == "migration 1 was computed from another graph of flow1 (revision 2) than revision 1 has"
    plan = plan_flow("flow1", ref(1), 0, [stored(1, 1, 2, linked=False)], ref(3), CONFIGS.__getitem__)
    assert plan.problem == "migration 1 is not linked to stored revisions"
    plan = plan_flow("flow1", ref(1), 0, [stored(2, 1, 2)], ref(3), CONFIGS.__getitem__)
    assert plan.problem == "migration 1 is missing"


def test_a_row_without_revisions_is_past_for_revisions_loaded_after_it() -> None:
    row = stored(1, 1, 2, linked=False)  # stored between revisions 2 and 3
    assert not in_past(row, ref(2)) and in_past(row, ref(3))
    assert in_past(stored(1, 1, 2), ref(2)) and not in_past(stored(1, 1, 2), ref(1))
