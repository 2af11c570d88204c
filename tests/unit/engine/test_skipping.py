"""Nodes that will not run: skipped by a false condition, or not reached, decided only once nothing can start them."""

from __future__ import annotations

from selinon_django.engine.skipping import NOT_REACHED, SKIPPED, not_run
from tests.unit.engine.builders import flow

FALSE = {"name": "alwaysFalse"}
#: A -> B (condition false) -> C;  A -> D -> E;  F is a fallback of D
FLOW = flow("f", {
    "edges": [
        {"from": None, "to": "A"},
        {"from": "A", "to": "B", "condition": FALSE},
        {"from": "B", "to": "C"},
        {"from": "A", "to": "D"},
        {"from": "D", "to": "E"},
    ],
    "failures": [{"nodes": "D", "fallback": "F"}],
})


def test_a_false_condition_skips_its_target_and_what_follows_while_the_run_goes_on() -> None:
    verdicts = not_run(FLOW, finished={"A"}, active={"D"}, instances={"A", "D"}, started=True, ended=False)
    assert verdicts == {"B": SKIPPED, "C": SKIPPED}  # E waits on D, F on D's failure: no verdict yet


def test_a_node_whose_row_succeeded_before_the_dispatcher_saw_it_decides_nothing() -> None:
    # A's row says succeeded, the dispatcher has not processed it: B may still start
    assert not_run(FLOW, finished=set(), active={"A"}, instances={"A"}, started=True, ended=False) == {}


def test_after_a_failure_the_rest_is_not_reached_and_an_unneeded_fallback_is_skipped() -> None:
    failed = not_run(FLOW, finished={"A"}, active=set(), instances={"A", "D", "F"}, started=True, ended=True)
    assert failed == {"B": SKIPPED, "C": SKIPPED, "E": NOT_REACHED}
    succeeded = not_run(FLOW, finished={"A", "D", "E"}, active=set(), instances={"A", "D", "E"}, started=True,
                        ended=True)
    assert succeeded == {"B": SKIPPED, "C": SKIPPED, "F": SKIPPED}


def test_a_run_that_has_not_started_decides_nothing_and_a_cycle_waits_for_the_end() -> None:
    assert not_run(FLOW, finished=set(), active=set(), instances=set(), started=False, ended=False) == {}
    cycle = flow("c", {"edges": [
        {"from": None, "to": "A"},
        {"from": "A", "to": "B"},
        {"from": "B", "to": "A", "condition": FALSE},
        {"from": "B", "to": "X", "condition": FALSE},
    ]})
    # B finished, its edges were evaluated: X is skipped; A and B ran
    assert not_run(cycle, finished={"A", "B"}, active=set(), instances={"A", "B"}, started=True,
                   ended=False) == {"X": SKIPPED}
    # a cancelled run: what never started is not reached
    assert not_run(cycle, finished=set(), active=set(), instances={"A"}, started=True, ended=True) == {
        "B": NOT_REACHED, "X": NOT_REACHED}
