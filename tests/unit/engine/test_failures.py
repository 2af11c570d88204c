"""Failures, fallbacks, eager failures and flow retries."""

from __future__ import annotations

import itertools
from typing import Any

from selinon_django.engine import FailFlow, FinishFlow, Reschedule, RetryFlow, StartTask, Trace
from selinon_django.engine.failures import applications, candidates, consume
from selinon_django.engine.testing import Simulator, TaskCall

from .builders import system
from .scenario import Driver, PlannedFailure, tasks


def flow(failures: list[dict[str, Any]], start: Any = ("A", "B"), **extra: Any) -> Any:
    return system({"f": {"edges": [{"from": None, "to": list(start)}], "failures": failures, **extra}})


# -- matching ---------------------------------------------------------------------------------


def test_candidates_are_greedy_then_lexical() -> None:
    config = flow(
        [
            {"nodes": "B", "fallback": "FB"},
            {"nodes": ["B", "A"], "fallback": "FAB"},
            {"nodes": "A", "fallback": "FA"},
            {"nodes": ["C", "A"], "fallback": "FAC"},
        ]
    )
    failures = config.flows["f"].failures
    order = [combination for combination, _ in candidates({"A": ["1"], "B": ["2"], "C": ["3"]}, failures)]
    assert order == [("A", "B"), ("A", "C"), ("A",), ("B",)]


def test_consume_takes_the_oldest_instance_and_drops_empty_names() -> None:
    failed = {"A": ["a1", "a2"], "B": ["b1"]}
    assert applications(failed, ("A", "B")) == 1
    assert consume(failed, ("A", "B")) == {"A": "a1", "B": "b1"}
    assert failed == {"A": ["a2"]}


# -- whole flows ------------------------------------------------------------------------------


def test_single_failure_runs_its_fallback_with_no_parent_and_the_flow_node_args() -> None:
    config = flow([{"nodes": "A", "fallback": "FA"}], start=["A"])
    run = Simulator(config, tasks(fail={"A"})).run("f", {"k": 1})
    assert run.status == "succeeded"
    (fa,) = run.named("FA")
    assert fa.parent is None and fa.node_args == {"k": 1} and fa.fallback
    assert any(t.event == Trace.FALLBACK_START for t in run.traces)


def test_uncovered_failure_fails_the_flow_with_its_real_state() -> None:
    config = flow([{"nodes": "X", "fallback": "FX"}])
    run = Simulator(config, tasks(fail={"A"})).run("f")
    assert run.status == "failed"
    assert isinstance(run.outcome, FailFlow)
    state = run.outcome.state
    assert state["failed_nodes"] == {"A": [run.named("A")[0].id]}
    assert state["finished_nodes"] == {"B": [run.named("B")[0].id]}  # Do better 1: not lost
    assert run.outcome.reason == "failed_nodes"


def test_flow_keeps_scheduling_unaffected_nodes_before_failing() -> None:
    config = system({"f": {"edges": [{"from": None, "to": ["A", "B"]}, {"from": "B", "to": "C"}]}})
    run = Simulator(config, tasks(fail={"A"})).run("f")
    assert run.status == "failed"
    assert run.named("C")[0].status == "succeeded"


def test_fallback_for_several_nodes_waits_for_both_failures() -> None:
    config = flow([{"nodes": ["A", "B"], "fallback": "FAB"}])
    run = Simulator(config, tasks(fail={"A", "B"})).run("f")
    assert run.status == "succeeded"
    assert run.counts()["FAB"] == 1


def test_greedy_choice_prefers_the_entry_covering_most_failed_nodes() -> None:
    failures: list[dict[str, Any]] = [
        {"nodes": "A", "fallback": "FA"},
        {"nodes": ["A", "B"], "fallback": "FAB"},
        {"nodes": "B", "fallback": "FB"},
    ]
    both = Simulator(flow(failures), tasks(fail={"A", "B"})).run("f")
    assert both.status == "succeeded"
    assert "FAB" in both.counts() and "FA" not in both.counts() and "FB" not in both.counts()

    only_a = Simulator(flow(failures), tasks(fail={"A"})).run("f")
    assert only_a.status == "succeeded"
    assert "FA" in only_a.counts() and "FAB" not in only_a.counts()


def test_lexical_order_breaks_ties_and_one_fallback_runs_at_a_time() -> None:
    config = flow([{"nodes": "B", "fallback": "FB"}, {"nodes": "A", "fallback": "FA"}])
    driver = Driver(config, "f")
    driver.step()
    driver.ports.fail(driver.id("A"))
    driver.ports.fail(driver.id("B"))
    result = driver.step()
    assert [s.name for s in result.starts] == ["FA"]
    assert result.state.failed_nodes == {"B": (driver.id("B"),)}
    assert result.new_fallback_nodes[0].name == "FA"
    driver.ports.succeed(driver.id("FA"))
    result = driver.step()
    assert [s.name for s in result.starts] == ["FB"]
    driver.ports.succeed(driver.id("FB"))
    assert isinstance(driver.step().outcome, FinishFlow)


def test_fallbacks_wait_until_nothing_is_active() -> None:
    config = flow([{"nodes": "A", "fallback": "FA"}])
    driver = Driver(config, "f")
    driver.step()
    driver.ports.fail(driver.id("A"))
    result = driver.step()
    assert result.starts == () and isinstance(result.outcome, Reschedule)
    assert result.state.failed_nodes == {"A": (driver.id("A"),)}
    driver.ports.succeed(driver.id("B"))
    assert [s.name for s in driver.step().starts] == ["FA"]


def test_every_fallback_of_the_matching_entry_is_started() -> None:
    config = system(
        {
            "f": {"edges": [{"from": None, "to": "A"}], "failures": [{"nodes": "A", "fallback": ["F1", "F2", "sub"]}]},
            "sub": {"edges": [{"from": None, "to": "S"}]},
        }
    )
    run = Simulator(config, tasks(fail={"A"})).run("f", {"k": 1})
    assert run.status == "succeeded"
    assert run.counts() == {"A": 1, "F1": 1, "F2": 1, "sub": 1}
    sub = run.named("sub")[0]
    assert sub.parent is None and sub.node_args is None  # propagate_node_args not set


def test_fallback_true_just_clears_the_failure() -> None:
    # Do better 10: the reference crashes on this.
    config = flow([{"nodes": "A", "fallback": True}])
    run = Simulator(config, tasks(fail={"A"})).run("f")
    assert run.status == "succeeded"
    assert run.counts() == {"A": 1, "B": 1}


def test_fallback_true_then_remaining_failures_are_matched_in_the_same_step() -> None:
    config = flow([{"nodes": "A", "fallback": True}, {"nodes": "B", "fallback": "FB"}])
    driver = Driver(config, "f")
    driver.step()
    driver.ports.fail(driver.id("A"))
    driver.ports.fail(driver.id("B"))
    result = driver.step()
    assert [s.name for s in result.starts] == ["FB"]
    assert result.state.failed_nodes == {}


def test_conditional_fallback_sees_node_args() -> None:
    cond = {"name": "argsFieldEqual", "args": {"key": "recover", "value": True}}
    config = flow([{"nodes": "A", "fallback": "FA", "condition": cond}], start=["A"])
    recovered = Simulator(config, tasks(fail={"A"})).run("f", {"recover": True})
    assert recovered.status == "succeeded" and recovered.named("FA")
    assert any(t.event == Trace.FALLBACK_COND_TRUE for t in recovered.traces)
    not_recovered = Simulator(config, tasks(fail={"A"})).run("f", {"recover": False})
    assert not_recovered.status == "failed" and not not_recovered.named("FA")
    assert any(t.event == Trace.FALLBACK_COND_FALSE for t in not_recovered.traces)


def test_false_condition_lets_a_smaller_entry_match() -> None:
    never = {"name": "alwaysFalse"}
    config = flow(
        [
            {"nodes": ["A", "B"], "fallback": "FAB", "condition": never},
            {"nodes": "A", "fallback": "FA"},
            {"nodes": "B", "fallback": True},
        ]
    )
    run = Simulator(config, tasks(fail={"A", "B"})).run("f")
    assert run.status == "succeeded"
    assert "FAB" not in run.counts() and run.counts()["FA"] == 1


def test_fallback_on_fallback() -> None:
    config = flow([{"nodes": "A", "fallback": "FA"}, {"nodes": "FA", "fallback": "FFA"}], start=["A"])
    run = Simulator(config, tasks(fail={"A", "FA"})).run("f")
    assert run.status == "succeeded"
    assert [n.name for n in run.nodes] == ["A", "FA", "FFA"]
    failing_too = Simulator(config, tasks(fail={"A", "FA", "FFA"})).run("f")
    assert failing_too.status == "failed"
    assert failing_too.outcome.failed_nodes == {"FFA": [failing_too.named("FFA")[0].id]}


def test_each_failed_instance_consumes_one_application() -> None:
    config = flow([{"nodes": "A", "fallback": "FA"}], start=["A", "A", "A"])
    run = Simulator(config, tasks(fail={"A"})).run("f")
    assert run.status == "succeeded"
    assert run.counts() == {"A": 3, "FA": 3}


def test_multi_node_entry_applies_while_every_node_has_instances_left() -> None:
    config = flow([{"nodes": ["A", "B"], "fallback": "FAB"}, {"nodes": "A", "fallback": "FA"}], start=["A", "A", "B"])
    driver = Driver(config, "f")
    driver.step()
    for node_id in driver.ids("A") + driver.ids("B"):
        driver.ports.fail(node_id)
    result = driver.step()
    assert [s.name for s in result.starts] == ["FAB"]
    assert result.state.failed_nodes == {"A": (driver.ids("A")[1],)}
    driver.ports.succeed(driver.id("FAB"))
    result = driver.step()
    assert [s.name for s in result.starts] == ["FA"]
    driver.ports.succeed(driver.id("FA"))
    assert isinstance(driver.step().outcome, FinishFlow)


def test_fallback_continues_the_flow_through_ordinary_edges() -> None:
    config = system(
        {
            "f": {
                "edges": [
                    {"from": None, "to": "Risky"},
                    {"from": "Recover", "to": "After"},
                    {"from": "After", "to": "End"},
                ],
                "failures": [{"nodes": "Risky", "fallback": "Recover"}],
            }
        }
    )
    run = Simulator(config, tasks(fail={"Risky"})).run("f", {"o": 7})
    assert run.status == "succeeded"
    recover, after, end = run.named("Recover")[0], run.named("After")[0], run.named("End")[0]
    assert after.parent == {"Recover": recover.id}
    assert end.parent == {"After": after.id}


def test_subflow_failure_propagates_to_the_parent_as_a_failed_node() -> None:
    config = system(
        {
            "outer": {
                "edges": [{"from": None, "to": "inner"}, {"from": "inner", "to": "Never"}],
                "failures": [{"nodes": "inner", "fallback": "Cleanup"}],
            },
            "inner": {"edges": [{"from": None, "to": ["X", "Y"]}]},
        }
    )
    run = Simulator(config, tasks(fail={"X"})).run("outer")
    assert run.status == "succeeded"
    inner = run.named("inner")[0]
    assert inner.status == "failed" and inner.run is not None and inner.run.status == "failed"
    assert inner.run.outcome.state["finished_nodes"] == {"Y": [inner.run.named("Y")[0].id]}
    assert run.counts() == {"inner": 1, "Cleanup": 1}

    unhandled = system(
        {"outer": {"edges": [{"from": None, "to": "inner"}]}, "inner": {"edges": [{"from": None, "to": "X"}]}}
    )
    run = Simulator(unhandled, tasks(fail={"X"})).run("outer")
    assert run.status == "failed"
    assert run.outcome.failed_nodes == {"inner": [run.named("inner")[0].id]}


# -- eager failures -----------------------------------------------------------------------------


def test_eager_failure_fails_at_once_leaving_running_nodes_running() -> None:
    # Do better 10: works in a flow with no failures section.
    config = system(
        {"f": {"edges": [{"from": None, "to": ["A", "B"]}, {"from": "A", "to": "C"}], "eager_failures": ["B"]}}
    )
    driver = Driver(config, "f")
    driver.step()
    driver.ports.succeed(driver.id("A"))
    driver.ports.fail(driver.id("B"))
    result = driver.step()
    assert result.starts == ()  # nothing new is scheduled, not even C
    assert isinstance(result.outcome, FailFlow) and result.outcome.reason == "eager_failure"
    assert result.outcome.state["failed_nodes"] == {"B": [driver.id("B")]}
    assert result.outcome.state["finished_nodes"] == {"A": [driver.id("A")]}
    assert [t.event for t in result.traces].count(Trace.EAGER_FAILURE) == 1


def test_eager_failure_leaves_pending_nodes_in_the_state() -> None:
    config = system({"f": {"edges": [{"from": None, "to": ["A", "B"]}], "eager_failures": True}})
    driver = Driver(config, "f")
    driver.step()
    driver.ports.fail(driver.id("B"))
    result = driver.step()
    assert isinstance(result.outcome, FailFlow)
    assert result.outcome.state["active_nodes"] == [{"name": "A", "id": driver.id("A")}]


def test_eager_failures_only_for_listed_nodes() -> None:
    config = system(
        {
            "f": {
                "edges": [{"from": None, "to": ["A", "B"]}],
                "eager_failures": ["A"],
                "failures": [{"nodes": "B", "fallback": "FB"}],
            }
        }
    )
    driver = Driver(config, "f")
    driver.step()
    driver.ports.fail(driver.id("B"))
    assert isinstance(driver.step().outcome, Reschedule)


def test_eager_failure_beats_an_available_fallback_and_respects_max_retry() -> None:
    config = system(
        {
            "f": {
                "edges": [{"from": None, "to": "A"}],
                "eager_failures": True,
                "failures": [{"nodes": "A", "fallback": "FA"}],
                "max_retry": 1,
                "retry_countdown": 5,
            }
        }
    )
    driver = Driver(config, "f")
    driver.step()
    driver.ports.fail(driver.id("A"))
    outcome = driver.step().outcome
    assert isinstance(outcome, RetryFlow) and outcome.countdown == 5 and outcome.retried_count == 1


# -- flow retries -----------------------------------------------------------------------------


def test_flow_is_retried_from_scratch_up_to_max_retry() -> None:
    config = system(
        {"f": {"edges": [{"from": None, "to": "A"}, {"from": "A", "to": "B"}], "max_retry": 2, "retry_countdown": 3}}
    )
    run = Simulator(config, tasks(fail={"B"})).run("f", {"n": 1})
    assert run.status == "failed"
    assert run.counts() == {"A": 3, "B": 3}
    retries = [t for t in run.traces if t.event == Trace.FLOW_RETRY]
    assert [t.details["retried_count"] for t in retries] == [1, 2]
    assert all(n.node_args == {"n": 1} for n in run.nodes)


def test_flow_retry_can_succeed() -> None:
    attempts = itertools.count(1)

    def flaky(call: TaskCall) -> str:
        if next(attempts) == 1:
            raise PlannedFailure("first flow attempt")
        return "ok"

    config = system({"f": {"edges": [{"from": None, "to": "A"}], "max_retry": 1}})
    run = Simulator(config, flaky).run("f")
    assert run.status == "succeeded"
    assert [n.status for n in run.named("A")] == ["failed", "succeeded"]


def test_retry_outcome_when_retried_count_allows() -> None:
    config = system({"f": {"edges": [{"from": None, "to": "A"}], "max_retry": 2, "retry_countdown": 7}})
    driver = Driver(config, "f")
    driver.retried_count = 2
    driver.step()
    driver.ports.fail(driver.id("A"))
    outcome = driver.step().outcome
    assert isinstance(outcome, FailFlow)
    assert outcome.failed_nodes == {"A": [driver.id("A")]}


def test_task_retries_are_the_runtime_s_business_but_attempts_are_recorded() -> None:
    config = system({"f": {"edges": [{"from": None, "to": "A"}]}}, tasks={"A": {"max_retry": 2}})
    run = Simulator(config, tasks(fail_attempts={"A": 2})).run("f")
    assert run.status == "succeeded"
    assert run.named("A")[0].attempts == 3
    assert all(isinstance(s, StartTask) for r in run.steps for s in r.starts)
