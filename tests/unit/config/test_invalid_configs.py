"""Each invalid configuration is refused with the file, the key path and what is wrong."""
from __future__ import annotations

from pathlib import Path

import pytest

from selinon_django.config import ConfigurationError, load_config

INVALID = Path(__file__).resolve().parents[2] / "fixtures" / "config" / "invalid"

# (fixture, key path, message fragment)
CASES: list[tuple[str, str, str]] = [
    ("unknown_task_key.yaml", "tasks[0]", "unknown key 'qeueu' (did you mean 'queue'?)"),
    ("missing_import.yaml", "tasks[1]", "missing required key 'import'"),
    ("negative_max_retry.yaml", "tasks[0].max_retry", "must be >= 0, got -1"),
    ("both_readonly_spellings.yaml", "tasks[0]", "either 'storage_read_only' or 'storage_readonly'"),
    ("bad_rate_limit.yaml", "tasks[0].rate_limit", "expected a Celery rate limit"),
    ("priority_out_of_range.yaml", "tasks[0].priority", "must be <= 9, got 12"),
    ("soft_time_limit_too_long.yaml", "tasks[0].soft_time_limit", "must be less than time_limit"),
    ("unknown_storage.yaml", "tasks[0].storage", "unknown storage 'Storage2' (did you mean 'Storage1'?)"),
    ("duplicate_task.yaml", "tasks[2]", "task 'A' is defined twice"),
    ("name_space_clash.yaml", "flow-definitions[1]", "name 'A' is already used by a task"),
    ("flow_not_listed.yaml", "flow-definitions[1].name", "flow 'g' is defined but not listed under 'flows'"),
    ("listed_without_definition.yaml", "flows[1]", "flow 'g' is listed under 'flows' but has no definition"),
    ("no_starting_edge.yaml", "flow-definitions[0].edges", "flow 'f' has no starting edge"),
    ("duplicate_from.yaml", "flow-definitions[0].edges[1].from", "node 'A' is listed twice"),
    ("never_started_source.yaml", "flow-definitions[0].edges[1].from", "node 'C' is never started in flow 'f'"),
    ("nowait_source.yaml", "flow-definitions[0].edges[1].from", "node 'A' is nowait in flow 'f'"),
    ("unknown_node.yaml", "flow-definitions[0].edges[1].to", "unknown node 'Taks2' (not a task or flow) (did you mean"),
    ("storage_as_node.yaml", "flow-definitions[0].edges[0].to", "'S' is a storage, not a task or flow"),
    (
        "predicate_missing_arg.yaml",
        "flow-definitions[0].edges[1].condition.args",
        "predicate 'fieldEqual' needs argument 'value'",
    ),
    (
        "predicate_unknown_arg.yaml",
        "flow-definitions[0].edges[1].condition.args",
        "predicate 'fieldEqual' takes no argument 'vaule' (did you mean 'value'?)",
    ),
    (
        "unknown_predicate.yaml",
        "flow-definitions[0].edges[1].condition.or[1].name",
        "unknown predicate 'fieldEquals' (did you mean 'fieldEqual'?)",
    ),
    (
        "predicate_on_starting_edge.yaml",
        "flow-definitions[0].edges[0].condition",
        "which a starting edge does not have",
    ),
    (
        "predicate_result_no_storage.yaml",
        "flow-definitions[0].edges[1].condition",
        "reads the result of task 'A', which has no storage",
    ),
    (
        "predicate_result_read_only.yaml",
        "flow-definitions[0].edges[1].condition.not",
        "whose storage is read-only",
    ),
    (
        "predicate_reads_flow.yaml",
        "flow-definitions[0].edges[1].condition",
        "cannot read the result of flow 'g'",
    ),
    (
        "predicate_node_not_source.yaml",
        "flow-definitions[0].edges[1].condition.node",
        "node 'B' is not a source of this edge",
    ),
    (
        "predicate_ambiguous_node.yaml",
        "flow-definitions[0].edges[1].condition.and[1]",
        "name it with 'node' (the edge has several sources)",
    ),
    (
        "fallback_condition_reads_result.yaml",
        "flow-definitions[0].failures[0].condition",
        "a fallback condition can only use node_args",
    ),
    (
        "foreach_propagate_result_to_task.yaml",
        "flow-definitions[0].edges[1].foreach.propagate_result",
        "every destination to be a flow; 'B' is a task",
    ),
    (
        "foreach_propagate_result_with_node_args.yaml",
        "flow-definitions[0].edges[1].foreach.propagate_result",
        "cannot be combined with propagate_node_args for 'g'",
    ),
    ("selective_to_task.yaml", "flow-definitions[0].edges[1].selective", "only on an edge to a single sub-flow"),
    ("selective_unknown_task.yaml", "flow-definitions[0].edges[1].selective.tasks", "unknown task 'Nope'"),
    (
        "selective_task_outside_subflow.yaml",
        "flow-definitions[0].edges[1].selective.tasks",
        "task 'B' is not run by flow 'g'",
    ),
    (
        "node_args_from_first_two_starts.yaml",
        "flow-definitions[0].node_args_from_first",
        "needs exactly one starting node, flow 'f' has 2",
    ),
    (
        "node_args_from_first_flow.yaml",
        "flow-definitions[0].node_args_from_first",
        "the starting node 'g' must be a task, not a flow",
    ),
    (
        "propagate_both_finished.yaml",
        "flow-definitions[0].propagate_compound_finished",
        "propagate_finished and propagate_compound_finished are mutually exclusive ('g')",
    ),
    ("propagate_not_subflow.yaml", "flow-definitions[0].propagate_parent", "flow 'f' does not start a sub-flow 'g'"),
    ("nowait_not_in_flow.yaml", "flow-definitions[0].nowait", "node 'B' is not started in flow 'f'"),
    ("eager_failures_not_in_flow.yaml", "flow-definitions[0].eager_failures", "node 'B' is not started in flow 'f'"),
    (
        "sampling_missing_arg.yaml",
        "flow-definitions[0].sampling.args",
        "sampling strategy 'constant' needs argument 'retry'",
    ),
    (
        "unknown_sampling_strategy.yaml",
        "flow-definitions[0].sampling.name",
        "unknown sampling strategy 'biexponential_increse' (did you mean 'biexponential_increase'?)",
    ),
    ("missing_env_var.yaml", "tasks[0].queue", "environment variable 'MISSING_PREFIX' not set"),
    ("trace_unknown_storage.yaml", "global.trace[0].storage.name", "unknown storage 'Tracer' (did you mean 'Traces'?)"),
    ("fallback_false.yaml", "flow-definitions[0].failures[0].fallback", "a list of node names or true"),
    ("invalid_yaml.yaml", "", "invalid YAML at line"),
    ("top_level_list.yaml", "", "the top level must be a mapping"),
    ("condition_two_kinds.yaml", "flow-definitions[0].edges[1].condition", "exactly one of 'name' (a predicate)"),
    ("duplicate_failure_nodes.yaml", "flow-definitions[0].failures[1].nodes", "the same nodes as failures[0]"),
    ("failure_node_never_started.yaml", "flow-definitions[0].failures[0].nodes", "node 'B' is never started"),
    ("docs_storage_misplaced_key.yaml", "storages[0]", "unknown key 'port'"),
    (
        "docs_condition_extra_arg.yaml",
        "flow-definitions[0].edges[1].condition.and[1].not.args",
        "predicate 'fieldExist' takes no argument 'value'",
    ),
    ("edge_without_from.yaml", "flow-definitions[0].edges[0]", "missing required key 'from'"),
    ("unknown_top_level_key.yaml", "", "unknown key 'flow-definition' (did you mean 'flow-definitions'?)"),
    ("throttling_unknown_unit.yaml", "tasks[0].throttling", "unknown key 'second' (did you mean 'seconds'?)"),
]


def test_every_fixture_has_a_case() -> None:
    assert sorted(p.name for p in INVALID.glob("*.yaml")) == sorted(case[0] for case in CASES)


@pytest.mark.parametrize(("fixture", "path", "fragment"), CASES, ids=[case[0] for case in CASES])
def test_invalid_configuration_is_refused(fixture: str, path: str, fragment: str) -> None:
    file = INVALID / fixture
    with pytest.raises(ConfigurationError) as caught:
        load_config([file], [], environ={})
    issues = caught.value.issues
    matching = [issue for issue in issues if issue.path == path and fragment in issue.message]
    assert matching, "\n".join(str(issue) for issue in issues)
    assert all(issue.file == str(file) for issue in matching)
    # the rendered line is what a command prints: file, key path and message together
    assert f"{file}: {path}: " in str(matching[0]) if path else str(matching[0]).startswith(f"{file}: ")
