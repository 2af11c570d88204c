"""Third pass: the semantic checks a well-formed configuration must still pass.

These are the reference's checks (see REFERENCE-BEHAVIOUR.md, "Configuration checks") plus
the ones that catch, at load time, mistakes the reference only finds while a flow runs (an
unknown predicate argument, a sampling strategy called with the wrong arguments, a
``propagate_*`` list naming a flow that is never started). Every problem is reported with the
file and key path where it was written; nothing stops at the first one.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from selinon_django.config.imports import DEFAULT_PREDICATES_MODULE, DEFAULT_STRATEGIES_MODULE
from selinon_django.config.model import And, Condition, Edge, Flow, Not, Or, Predicate, selects
from selinon_django.config.parse import Parsed, Where
from selinon_django.config.validation import suggest
from selinon_django.errors import ConfigIssue
from selinon_django.predicates import BUILTIN_PREDICATES
from selinon_django.predicates.calling import predicate_signature

__all__ = ["STRATEGY_ARGUMENTS", "check", "condition_leaves"]

#: the YAML ``args`` of each built-in sampling strategy (besides ``status``); kept here so the
#: loader does not import the strategies module
STRATEGY_ARGUMENTS: Mapping[str, tuple[str, ...]] = {
    "biexponential_adapt": ("start_retry", "max_retry"),
    "biexponential_decrease": ("start_retry", "stop_retry"),
    "biexponential_increase": ("start_retry", "max_retry"),
    "constant": ("retry",),
    "linear_adapt": ("start_retry", "max_retry", "step"),
    "linear_increase": ("start_retry", "max_retry", "step"),
    "random": ("start_retry", "max_retry"),
}

PROPAGATE_KEYS = ("propagate_parent", "propagate_finished", "propagate_compound_finished", "propagate_node_args")


def condition_leaves(condition: Condition, path: str = "condition") -> Iterator[tuple[Predicate, str]]:
    """Every predicate of a condition tree with its key path (``condition.and[1].not``)."""
    if isinstance(condition, Predicate):
        yield condition, path
    elif isinstance(condition, (And, Or)):
        key = "and" if isinstance(condition, And) else "or"
        for index, child in enumerate(condition.children):
            yield from condition_leaves(child, f"{path}.{key}[{index}]")
    elif isinstance(condition, Not):
        yield from condition_leaves(condition.child, f"{path}.not")


class _Checker:
    def __init__(self, parsed: Parsed) -> None:
        self.p = parsed
        self.issues: list[ConfigIssue] = []
        self.builtin_predicates = parsed.global_config.predicates_module == DEFAULT_PREDICATES_MODULE

    def add(self, where: Where, suffix: str | None, message: str) -> None:
        self.issues.append(where.issue(suffix, message))

    def kind(self, name: str) -> str | None:
        if name in self.p.tasks:
            return "task"
        if name in self.p.flows:
            return "flow"
        return None

    def unknown_node(self, name: str) -> str:
        if name in self.p.storages:
            return f"'{name}' is a storage, not a task or flow"
        known = [*self.p.tasks, *self.p.flows]
        return f"unknown node '{name}' (not a task or flow){suggest(name, known)}"

    # -- system --------------------------------------------------------------------------------
    def system(self) -> None:
        locations = self.p.locations
        for name, where in locations.flows_listed.items():
            if name not in self.p.flows and name not in locations.tasks and name not in locations.storages:
                self.add(where, None, f"flow '{name}' is listed under 'flows' but has no definition")
            elif name in self.p.tasks:
                self.add(where, None, f"'{name}' is a task, not a flow")
        for name, where in locations.flows.items():
            if name not in locations.flows_listed:
                self.add(where, "name", f"flow '{name}' is defined but not listed under 'flows'")
        for name, task in self.p.tasks.items():
            where = locations.tasks[name]
            if task.storage is not None and task.storage not in self.p.storages:
                self.add(where, "storage", f"unknown storage '{task.storage}'{suggest(task.storage, self.p.storages)}")
            limits = (task.soft_time_limit, task.time_limit)
            if limits[0] is not None and limits[1] is not None and limits[0] >= limits[1]:
                self.add(where, "soft_time_limit", "soft_time_limit must be less than time_limit")
        for entry, where in locations.trace_entries:
            if entry.kind == "storage":
                storage = str(entry.options["name"])
                if storage not in self.p.storages:
                    self.add(where, "storage.name", f"unknown storage '{storage}'{suggest(storage, self.p.storages)}")

    # -- flows ---------------------------------------------------------------------------------
    def flow(self, flow: Flow, where: Where) -> None:
        started: set[str] = {node for edge in flow.edges for node in edge.to}
        for failure in flow.failures:
            if failure.fallback is not True:
                started.update(failure.fallback)
        subflows = {node for node in started if node in self.p.flows}

        if not flow.starting_edges:
            self.add(where, "edges", f"flow '{flow.name}' has no starting edge (an edge with an empty 'from')")
        for edge in flow.edges:
            self.edge(flow, edge, where.sub(f"edges[{edge.index}]"), started)
        self.failures(flow, where, started)
        self.flow_options(flow, where, started, subflows)

    def edge(self, flow: Flow, edge: Edge, where: Where, started: set[str]) -> None:
        seen: set[str] = set()
        for node in edge.from_:
            if node in seen:
                self.add(where, "from", f"node '{node}' is listed twice")
                continue
            seen.add(node)
            if self.kind(node) is None:
                self.add(where, "from", self.unknown_node(node))
            elif node in flow.nowait:
                self.add(where, "from", f"node '{node}' is nowait in flow '{flow.name}', so it cannot be a source")
            elif node not in started:
                message = f"node '{node}' is never started in flow '{flow.name}', so it cannot be a source"
                self.add(where, "from", message)
        for node in dict.fromkeys(edge.to):
            if self.kind(node) is None:
                self.add(where, "to", self.unknown_node(node))
        for predicate, path in condition_leaves(edge.condition):
            if not edge.condition_default:
                self.predicate(predicate, where.sub(path), edge=edge)
        if edge.foreach is not None and edge.foreach.propagate_result:
            for node in dict.fromkeys(edge.to):
                if self.kind(node) == "task":
                    self.add(
                        where,
                        "foreach.propagate_result",
                        f"propagate_result needs every destination to be a flow; '{node}' is a task",
                    )
                elif self.kind(node) == "flow" and selects(flow.propagate_node_args, node):
                    self.add(
                        where,
                        "foreach.propagate_result",
                        f"propagate_result cannot be combined with propagate_node_args for '{node}'",
                    )
        if edge.selective is not None:
            self.selective(edge, where)

    def selective(self, edge: Edge, where: Where) -> None:
        assert edge.selective is not None
        if len(edge.to) != 1 or self.kind(edge.to[0]) != "flow":
            self.add(where, "selective", "selective is allowed only on an edge to a single sub-flow")
            return
        target = edge.to[0]
        reachable = self.reachable_nodes(target, edge.selective.follow_subflows)
        for task in edge.selective.tasks:
            if task not in self.p.tasks:
                self.add(where, "selective.tasks", f"unknown task '{task}'{suggest(task, self.p.tasks)}")
            elif task not in reachable:
                scope = f"flow '{target}'" + (" or its sub-flows" if edge.selective.follow_subflows else "")
                self.add(where, "selective.tasks", f"task '{task}' is not run by {scope}")

    def reachable_nodes(self, flow_name: str, follow: bool) -> set[str]:
        nodes: set[str] = set()
        pending = [flow_name]
        visited: set[str] = set()
        while pending:
            name = pending.pop()
            if name in visited or name not in self.p.flows:
                continue
            visited.add(name)
            flow_nodes = self.p.flows[name].nodes()
            nodes.update(flow_nodes)
            if follow:
                pending.extend(n for n in flow_nodes if n in self.p.flows)
        return nodes

    def predicate(self, predicate: Predicate, where: Where, *, edge: Edge | None) -> None:
        """Checks of one condition leaf; ``edge`` None means a fallback condition."""
        reads_result = predicate.node is not None
        if self.builtin_predicates:
            function = BUILTIN_PREDICATES.get(predicate.name)
            if function is None:
                hint = suggest(predicate.name, BUILTIN_PREDICATES)
                self.add(where, "name", f"unknown predicate '{predicate.name}'{hint}")
                return
            signature = predicate_signature(function)
            reads_result = signature.needs_message
            given = set(predicate.args)
            for missing in sorted(signature.required_args - given):
                self.add(where, "args", f"predicate '{predicate.name}' needs argument '{missing}'")
            accepted = signature.required_args | signature.optional_args
            for extra in sorted(given - accepted):
                hint = suggest(extra, accepted)
                self.add(where, "args", f"predicate '{predicate.name}' takes no argument '{extra}'{hint}")
        if edge is None:
            if reads_result or predicate.node is not None:
                self.add(
                    where,
                    None,
                    f"predicate '{predicate.name}' reads a node's result; a fallback condition can only use node_args",
                )
            return
        if edge.is_starting:
            if reads_result or predicate.node is not None:
                self.add(
                    where,
                    None,
                    f"predicate '{predicate.name}' reads a node's result, which a starting edge does not have",
                )
            return
        node = predicate.node
        if node is not None and "/" in node:
            # Beyond Selinon: 'flow2/Task5' reads a result produced inside the finished sub-flow
            # flow2 (nesting allowed: 'flow2/flow3/Task6').
            self.subflow_result_path(predicate.name, node, edge, where)
            return
        if node is not None and node not in edge.from_:
            self.add(where, "node", f"node '{node}' is not a source of this edge")
            return
        if not (reads_result and self.builtin_predicates):
            return
        if node is None:
            if len(edge.from_) != 1:
                self.add(
                    where,
                    None,
                    f"predicate '{predicate.name}' reads a node's result: name it with 'node' "
                    "(the edge has several sources)",
                )
                return
            node = edge.from_[0]
        self.readable_result(predicate.name, node, where)

    def subflow_result_path(self, predicate: str, path: str, edge: Edge, where: Where) -> None:
        """Check ``flow/.../Task``: the first part is a sub-flow source of the edge, the middle
        parts are flows started inside the previous one, and the last part is a task there."""
        parts = path.split("/")
        if any(not part for part in parts):
            self.add(where, "node", f"'{path}' is not a valid sub-flow result path (empty part)")
            return
        if parts[0] not in edge.from_:
            self.add(where, "node", f"node '{parts[0]}' (first part of '{path}') is not a source of this edge")
            return
        container = parts[0]
        for part in parts[1:]:
            if self.kind(container) != "flow":
                self.add(where, "node", f"'{container}' in '{path}' is not a flow, so nothing runs inside it")
                return
            flow = self.p.flows.get(container)
            if flow is not None and part not in flow.nodes():
                self.add(where, "node", f"'{part}' in '{path}' is not a node of flow '{container}'")
                return
            container = part
        self.readable_result(predicate, parts[-1], where)

    def readable_result(self, predicate: str, node: str, where: Where) -> None:
        if self.kind(node) == "flow":
            message = f"predicate '{predicate}' cannot read the result of flow '{node}' (only tasks have results)"
            self.add(where, None, message)
            return
        task = self.p.tasks.get(node)
        if task is None:
            return  # reported as an unknown node already
        if task.storage is None:
            self.add(where, None, f"predicate '{predicate}' reads the result of task '{node}', which has no storage")
        elif task.storage_read_only:
            self.add(
                where,
                None,
                f"predicate '{predicate}' reads the result of task '{node}', whose storage is read-only "
                "(its results are not stored)",
            )

    def failures(self, flow: Flow, where: Where, started: set[str]) -> None:
        first_with: dict[frozenset[str], int] = {}
        for index, failure in enumerate(flow.failures):
            fw = where.sub(f"failures[{index}]")
            seen: set[str] = set()
            for node in failure.nodes_order:
                if node in seen:
                    self.add(fw, "nodes", f"node '{node}' is listed twice")
                    continue
                seen.add(node)
                if self.kind(node) is None:
                    self.add(fw, "nodes", self.unknown_node(node))
                elif node in flow.nowait:
                    self.add(fw, "nodes", f"node '{node}' is nowait, so its failure is never seen")
                elif node not in started:
                    self.add(fw, "nodes", f"node '{node}' is never started in flow '{flow.name}'")
            if failure.nodes in first_with:
                self.add(fw, "nodes", f"the same nodes as failures[{first_with[failure.nodes]}]")
            else:
                first_with[failure.nodes] = index
            if failure.fallback is not True:
                for node in dict.fromkeys(failure.fallback):
                    if self.kind(node) is None:
                        self.add(fw, "fallback", self.unknown_node(node))
            if not failure.condition_default:
                for predicate, path in condition_leaves(failure.condition):
                    self.predicate(predicate, fw.sub(path), edge=None)

    def flow_options(self, flow: Flow, where: Where, started: set[str], subflows: set[str]) -> None:
        if flow.node_args_from_first:
            first = [node for edge in flow.starting_edges for node in edge.to]
            if len(first) != 1:
                self.add(
                    where,
                    "node_args_from_first",
                    f"node_args_from_first needs exactly one starting node, flow '{flow.name}' has {len(first)}",
                )
            elif self.kind(first[0]) == "flow":
                self.add(where, "node_args_from_first", f"the starting node '{first[0]}' must be a task, not a flow")
            elif first[0] in self.p.tasks:
                task = self.p.tasks[first[0]]
                if task.storage is None or task.storage_read_only:
                    self.add(
                        where,
                        "node_args_from_first",
                        f"the starting task '{task.name}' needs a storage (not read-only) to pass its result on",
                    )
        for node in sorted(flow.nowait):
            if node not in started:
                self.add(where, "nowait", f"node '{node}' is not started in flow '{flow.name}'")
        if not isinstance(flow.eager_failures, bool):
            for node in sorted(flow.eager_failures):
                if node not in started:
                    self.add(where, "eager_failures", f"node '{node}' is not started in flow '{flow.name}'")
        for key in PROPAGATE_KEYS:
            selector = getattr(flow, key)
            if isinstance(selector, bool):
                continue
            for name in sorted(selector):
                if name in self.p.tasks:
                    self.add(where, key, f"'{name}' is a task; {key} names sub-flows")
                elif name not in subflows:
                    self.add(where, key, f"flow '{flow.name}' does not start a sub-flow '{name}'")
        finished, compound = flow.propagate_finished, flow.propagate_compound_finished
        if finished is not False and compound is not False:

            def covered(selector: bool | frozenset[str]) -> set[str]:
                return set(subflows) if selector is True else set(selector or ())

            overlap = sorted(covered(finished) & covered(compound))
            if overlap or (finished is True and compound is True):
                names = ", ".join(f"'{n}'" for n in overlap) or "every sub-flow"
                self.add(
                    where,
                    "propagate_compound_finished",
                    f"propagate_finished and propagate_compound_finished are mutually exclusive ({names})",
                )
        self.sampling(flow, where)

    def sampling(self, flow: Flow, where: Where) -> None:
        sampling = flow.sampling
        if sampling.module != DEFAULT_STRATEGIES_MODULE:
            return
        expected = STRATEGY_ARGUMENTS.get(sampling.name)
        if expected is None:
            hint = suggest(sampling.name, STRATEGY_ARGUMENTS)
            self.add(where, "sampling.name", f"unknown sampling strategy '{sampling.name}'{hint}")
            return
        given = set(sampling.args)
        for missing in [arg for arg in expected if arg not in given]:
            self.add(where, "sampling.args", f"sampling strategy '{sampling.name}' needs argument '{missing}'")
        for extra in sorted(given - set(expected)):
            hint = suggest(extra, expected)
            self.add(where, "sampling.args", f"sampling strategy '{sampling.name}' takes no argument '{extra}'{hint}")
        for arg in expected:
            value: Any = sampling.args.get(arg)
            if arg in given and (not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0):
                self.add(where, f"sampling.args.{arg}", f"expected a non-negative number, got {value!r}")


def check(parsed: Parsed) -> list[ConfigIssue]:
    """Every semantic problem of a parsed configuration."""
    checker = _Checker(parsed)
    checker.system()
    for name, flow in parsed.flows.items():
        checker.flow(flow, parsed.locations.flows[name])
    return checker.issues
