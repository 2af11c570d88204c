"""Engine behaviours end to end: real task classes through ``selinon_execute``, asserting on the report."""
from __future__ import annotations

import itertools

from tests.unit.executor import tasks
from tests.unit.executor.conftest import Execute

# -- edge shapes ---------------------------------------------------------------------------------


def test_one_to_one(execute: Execute) -> None:
    run = execute("one_to_one", {"x": 1})
    assert run.returncode == 0
    assert run.names() == ["A", "B"]
    a, b = run.node("A"), run.node("B")
    assert b["parent"] == {"A": a["id"]}
    assert a["parent"] in (None, {})
    assert b["node_args"] == {"x": 1}
    assert b["result"]["parent"] == {"A": a["id"]}  # what the task itself was given


def test_one_to_many_and_many_to_one(execute: Execute) -> None:
    run = execute("one_to_many")
    assert run.names() == ["A", "B", "C"]
    assert run.node("C")["parent"] == {"A": run.node("A")["id"]}
    run = execute("many_to_one")
    assert run.names() == ["A", "B", "C"]
    assert run.node("C")["parent"] == {"A": run.node("A")["id"], "B": run.node("B")["id"]}


def test_many_to_many(execute: Execute) -> None:
    run = execute("many_to_many")
    parents = {"A": run.node("A")["id"], "B": run.node("B")["id"]}
    assert run.node("C")["parent"] == parents
    assert run.node("D")["parent"] == parents


def test_separate_edges_start_a_node_per_edge_combined_once(execute: Execute) -> None:
    separate = execute("separate_edges")
    assert [n["parent"] for n in separate.nodes("C")] == [
        {"A": separate.node("A")["id"]}, {"B": separate.node("B")["id"]},
    ]
    assert len(execute("combined_edges").nodes("C")) == 1


def test_to_listing_a_node_twice_starts_it_twice(execute: Execute) -> None:
    assert execute("to_twice").counts() == {"A": 1, "B": 2}


def test_cycle_runs_until_its_condition_on_stored_results_is_false(execute: Execute) -> None:
    run = execute("cycle")
    assert run.status == "succeeded"
    counts = [node["result"]["n"] for node in run.nodes("Count")]
    assert counts == [1, 2, 3]
    ids = [node["id"] for node in run.nodes("Count")]
    assert [node["parent"] for node in run.nodes("Count")[1:]] == [{"Count": ids[0]}, {"Count": ids[1]}]
    assert run.node("Join")["parent"] == {"Count": ids[2]}


# -- conditions on real stored results -------------------------------------------------------------


def test_conditions_read_the_stored_result(execute: Execute) -> None:
    run = execute("conditions", {"results": {"A": {"kind": "x"}}})
    assert run.names() == ["A", "B"]
    run = execute("conditions", {"results": {"A": {"kind": "y"}}, "flag": True})
    assert run.names() == ["A", "C", "D"]
    run = execute("conditions", {"flag": True})  # no "kind": neither fieldEqual nor fieldExist
    assert run.names() == ["A", "C"]


# -- failures and fallbacks ----------------------------------------------------------------------


def test_single_fallback_recovers(execute: Execute) -> None:
    run = execute("fallback_single")
    assert run.returncode == 0 and run.status == "succeeded"
    bad, recover = run.node("Bad"), run.node("Recover")
    assert bad["status"] == "failed" and "fails on purpose" in bad["exception"]
    assert recover.get("fallback") is True
    assert recover["parent"] is None  # fallbacks start with no parent, the flow's node_args
    assert run.node("Join")["parent"] == {"Recover": recover["id"]}


def test_several_failed_nodes_greedy_fallback(execute: Execute) -> None:
    run = execute("fallback_several")
    assert run.status == "succeeded"
    # the entry covering both failures wins over the one covering Bad alone
    recover = run.node("Recover")
    assert recover.get("fallback") is True
    assert [n["parent"] for n in run.nodes("Join")] == [{"Recover": recover["id"]}]
    assert run.statuses("Bad") == run.statuses("Bad2") == ["failed"]


def test_fallback_true_clears_the_failure(execute: Execute) -> None:
    run = execute("fallback_true")
    assert run.status == "succeeded"
    assert run.names() == ["Bad", "A", "B"]


def test_conditional_fallback(execute: Execute) -> None:
    assert execute("fallback_conditional", {"recover": True}).status == "succeeded"
    run = execute("fallback_conditional", {"recover": False})
    assert run.returncode == 1 and run.status == "failed"
    assert run.names() == ["Bad"]


def test_fallback_on_fallback(execute: Execute) -> None:
    run = execute("fallback_on_fallback")
    assert run.status == "succeeded"
    assert run.names() == ["Bad", "Bad2", "Recover", "Join"]
    assert run.node("Bad2")["status"] == "failed" and run.node("Bad2").get("fallback")
    assert run.node("Recover").get("fallback") is True


def test_fallback_inside_a_sub_flow(execute: Execute) -> None:
    run = execute("fallback_outer")
    assert run.status == "succeeded"
    inner = run.node("fallback_inner")
    assert inner["status"] == "succeeded"
    assert run.names(inner["run"]) == ["Bad", "Recover", "B"]
    # a finished sub-flow is no parent of its own unless propagate_finished says so
    assert run.node("Join")["parent"] in (None, {})


def test_sub_flow_failure_propagates_to_the_parent_and_its_fallback(execute: Execute) -> None:
    run = execute("failing_inner_outer")
    assert run.status == "failed"
    assert run.statuses("fallback_conditional") == ["failed"]
    assert run.node("fallback_conditional")["run"]["status"] == "failed"
    run = execute("failing_inner_outer", {"outer_recover": True})
    assert run.status == "succeeded"
    # Join waits on the sub-flow, not on its fallback: the flow ends with the fallback
    assert run.names() == ["fallback_conditional", "Recover"]


def test_eager_failure_fails_the_flow_without_waiting(execute: Execute) -> None:
    run = execute("eager")
    assert run.returncode == 1 and run.status == "failed"
    assert run.node("Bad")["status"] == "failed"
    assert "B" not in run.counts()  # Flaky was still waiting for its retry
    # Flaky still ran its retry after the flow failed (the executor drains every event)
    assert run.node("Flaky")["attempts"] == 2


# -- nowait --------------------------------------------------------------------------------------


def test_nowait_node_runs_but_the_flow_does_not_wait(execute: Execute) -> None:
    run = execute("nowait", {"countdown": 3600})
    assert run.status == "succeeded"
    patient = run.node("Patient")
    assert patient.get("nowait") is True
    assert patient["status"] == "succeeded" and patient["attempts"] == 3
    flow_end = run.progress("done   flow nowait")[0]
    assert flow_end < 3600 < run.progress("done   task Patient")[0]


# -- foreach -------------------------------------------------------------------------------------


def test_foreach_to_tasks_without_propagate_result(execute: Execute) -> None:
    run = execute("foreach_tasks", {"results": {"List": {"items": ["x", "y", "z"]}}, "k": 1})
    assert run.status == "succeeded"
    items = run.nodes("Item")
    assert len(items) == 3
    assert all(node["node_args"]["k"] == 1 for node in items)  # the flow's node_args
    assert all(node["parent"] == {"List": run.node("List")["id"]} for node in items)
    assert len(run.nodes("Join")) == 3


def test_foreach_to_sub_flows_with_propagate_result(execute: Execute) -> None:
    run = execute("foreach_flows", {"items": [{"i": 1}, {"i": 2}]})
    assert run.status == "succeeded"
    flows = run.nodes("item_flow")
    assert [node["run"]["node_args"] for node in flows] == [{"i": 1}, {"i": 2}]
    assert [node["node_args"] for node in run.nodes("Item")] == [{"i": 1}, {"i": 2}]
    assert len(run.nodes("Join")) == 2


def test_foreach_over_nothing_starts_nothing(execute: Execute) -> None:
    run = execute("foreach_flows", {"items": []})
    assert run.status == "succeeded"
    assert run.names() == ["A"]


# -- node_args and parent propagation ----------------------------------------------------------------


def test_propagate_node_args_per_sub_flow(execute: Execute) -> None:
    run = execute("args_outer", {"p": 1})
    assert run.node("args_inner")["run"]["node_args"] == {"p": 1}
    assert run.node("B")["node_args"] == {"p": 1}
    assert run.node("item_flow")["run"]["node_args"] is None
    assert run.node("Item")["node_args"] is None


def test_node_args_from_first(execute: Execute) -> None:
    run = execute("args_from_first", {"results": {"A": {"replaced": True}}})
    first = run.node("A")["result"]
    assert run.nodes("B")[0]["node_args"] == first
    assert run.node("args_inner")["run"]["node_args"] == first
    assert run.report is not None and run.report["node_args"] == {"results": {"A": {"replaced": True}}}


def test_propagate_parent_and_finished(execute: Execute) -> None:
    run = execute("propagate_outer")
    a_id = run.node("A")["id"]
    inner = run.node("propagate_inner")
    assert inner["parent"] == {"A": a_id}
    assert run.node("B")["parent"] == {"A": a_id}  # propagate_parent reaches the starting nodes
    reader = run.node("Reader")
    nested = reader["parent"]["propagate_inner"]
    assert set(nested) == {"B", "propagate_deep"}
    assert set(nested["propagate_deep"]) == {"C", "D"}
    assert reader["result"]["nested"] == {"propagate_inner/B": ["B"]}


def test_propagate_compound_finished_flattens(execute: Execute) -> None:
    run = execute("compound_outer")
    reader = run.node("Reader")
    flat = reader["parent"]["propagate_inner"]
    assert set(flat) == {"B", "C", "D"}
    assert reader["result"]["nested"] == {"propagate_inner/B": ["B"], "propagate_inner/C": ["C"],
                                          "propagate_inner/D": ["D"]}
    assert run.node("B")["parent"] in (None, {})  # no propagate_parent here


# -- task retries, fatal errors, output_schema, flow retries ------------------------------------------


def test_task_retries_count_attempts_on_the_simulated_clock(execute: Execute) -> None:
    run = execute("task_retries", {"fail_times": 2})
    assert run.status == "succeeded"
    flaky = run.node("Flaky")
    assert (flaky["status"], flaky["attempts"]) == ("succeeded", 3)
    assert run.progress("start  task Flaky") == [0.0, 600.0, 1200.0]  # retry_countdown 600


def test_task_retries_used_up(execute: Execute) -> None:
    run = execute("task_retries", {"fail_times": 10})
    assert run.returncode == 1
    flaky = run.node("Flaky")
    assert (flaky["status"], flaky["attempts"]) == ("failed", 3)  # max_retry 2
    assert "attempt 3 of Flaky fails" in flaky["exception"]


def test_self_retry_does_not_count_against_max_retry(execute: Execute) -> None:
    run = execute("nowait", {"countdown": 50})
    patient = run.node("Patient")  # max_retry 0, yet two self.retry() calls
    assert (patient["status"], patient["attempts"]) == ("succeeded", 3)
    assert run.progress("start  task Patient") == [2.0, 52.0, 102.0]  # after A, then 50 s apart


def test_fatal_task_error_is_not_retried(execute: Execute) -> None:
    run = execute("fatal")
    fatal = run.node("Fatal")
    assert (fatal["status"], fatal["attempts"]) == ("failed", 1)  # max_retry 3 unused
    assert fatal["exception"].startswith("FatalTaskError")


def test_output_schema_failure_counts_as_an_exception(execute: Execute) -> None:
    run = execute("output_schema")
    schema = run.node("Schema")
    assert (schema["status"], schema["attempts"]) == ("failed", 2)  # max_retry 1
    assert "does not match" in schema["exception"]
    assert execute("output_schema", {"output": {"count": 3}}).status == "succeeded"


def test_flow_retry_starts_the_flow_again(execute: Execute) -> None:
    run = execute("flow_retry")
    assert run.returncode == 0 and run.status == "succeeded"
    assert run.statuses("FlakyPerFlow") == ["failed", "succeeded"]
    assert len(run.nodes("Join")) == 1
    first, second = run.progress("start  task FlakyPerFlow")
    assert second - first >= 100  # retry_countdown


# -- throttling and sampling ---------------------------------------------------------------------


def test_throttled_task_starts_are_spaced(execute: Execute) -> None:
    run = execute("throttled_tasks", {"results": {"List": {"items": [1, 2, 3]}}})
    assert run.statuses("Throttled") == ["succeeded"] * 3
    starts = run.progress("start  task Throttled")
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [5.0, 5.0]


def test_throttled_flow_starts_are_spaced(execute: Execute) -> None:
    run = execute("throttled_flows", {"items": [1, 2, 3]})
    assert run.status == "succeeded"
    starts = run.progress("start  flow slow_item_flow")
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [4.0, 4.0]


def test_constant_sampling_sets_the_pace(execute: Execute) -> None:
    run = execute("sampled_constant")
    assert run.status == "succeeded"
    assert run.progress("start  task B") == [10.0]
    assert run.progress("done   flow sampled_constant") == [20.0]


def test_custom_sampling_strategy_by_import(execute: Execute) -> None:
    run = execute("sampled_custom")
    assert run.status == "succeeded"
    assert run.progress("start  task B") == [7.0]
    assert tasks.STRATEGY_CALLS  # it was consulted


def test_default_sampling_is_the_biexponential_increase(execute: Execute) -> None:
    run = execute("one_to_one")
    assert run.progress("start  task B") == [2.0]  # nodes.yaml sets no sampling: start_retry 2


# -- selective runs ------------------------------------------------------------------------------


def test_selective_run_only_runs_the_path(execute: Execute) -> None:
    run = execute("selective", None, "--selective-task-names", "B")
    assert run.status == "succeeded"
    assert run.names() == ["Reusable", "B"]
    run = execute("selective", None, "--selective-task-names", "B", "--selective-run-subsequent")
    assert run.names() == ["Reusable", "B", "C"]


def test_selective_run_function_reuses_an_earlier_result(execute: Execute) -> None:
    first = execute("selective")
    earlier = first.node("Reusable")
    run = execute("selective", {"reuse": {"Reusable": earlier["id"]}}, "--selective-task-names", "B")
    assert run.status == "succeeded"
    reused = run.node("Reusable")
    assert reused["id"] == earlier["id"] and reused["attempts"] == 0
    assert reused["result"] == earlier["result"]  # read back from the storage
    assert run.node("B")["parent"] == {"Reusable": earlier["id"]}


def test_selective_run_follows_sub_flows(execute: Execute) -> None:
    run = execute("selective_outer", None, "--selective-task-names", "C", "--selective-follow-subflows")
    assert run.status == "succeeded"
    assert run.names() == ["A", "selective"]
    assert run.names(run.node("selective")["run"]) == ["Reusable", "B", "C"]
