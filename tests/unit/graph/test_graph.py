"""Flow graphs: what is drawn in which shape and colour, styles, run colouring, rendering."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.test import override_settings

from selinon_django.config.model import And, Not, Or, Predicate
from selinon_django.graph import (
    DEFAULT_STYLE,
    STATE_COLOURS,
    GraphRenderError,
    GraphStyleError,
    UnknownFlowGraphError,
    condition_lines,
    condition_text,
    configured_style,
    flow_digraph,
    load_style,
    merge_style,
    render,
    render_flow_graph,
)
from tests.unit.commands.helpers import FIXTURES, example_config, fixture_config

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"


def node_line(source: str, label: str) -> str:
    """The DOT statement of the node labelled ``label``."""
    for line in source.splitlines():
        if f"label={label} " in line or f'label="{label}" ' in line or line.rstrip().endswith(f"label={label}]"):
            return line
    raise AssertionError(f"no node labelled {label!r} in:\n{source}")


def node_id(source: str, label: str) -> str:
    return node_line(source, label).split()[0]


def edge_lines(source: str, tail: str, head: str) -> list[str]:
    return [line for line in source.splitlines() if re.match(rf"\s*{tail} -> {head}\b", line)]


def test_dot_source_matches_snapshot() -> None:
    """The whole DOT source for the fixture flow; set UPDATE_SNAPSHOTS=1 to accept a deliberate change."""
    source = flow_digraph(fixture_config(), "main").source
    snapshot = SNAPSHOTS / "main.dot"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(source)
    assert source == snapshot.read_text()


def test_each_element_has_its_shape_and_colour() -> None:
    source = flow_digraph(fixture_config(), "main").source

    assert "shape=ellipse" in node_line(source, "Fetch") and "#66cfa7" in node_line(source, "Fetch")
    assert "shape=box3d" in node_line(source, "items") and "#197a9f" in node_line(source, "items")
    condition = node_line(source, '"fieldEqual(node=Fetch, key=\\"kind\\", value=\\"source\\")"')
    assert "shape=octagon" in condition and "#e8e3c8" in condition
    foreach = node_line(source, '"True\\nforeach example_tasks.three"')
    assert "shape=doubleoctagon" in foreach
    storage = node_line(source, "Memory")
    assert "shape=cylinder" in storage and "#894830" in storage

    fetch, parse, memory, backup = (node_id(source, n) for n in ("Fetch", "Parse", "Memory", "Backup"))
    cond = condition.split()[0]
    # Fetch -> condition -> Parse, in the plain edge style
    assert edge_lines(source, fetch, cond) and "color=black" in edge_lines(source, fetch, cond)[0]
    assert edge_lines(source, cond, parse)
    # the store edge is dashed and brown
    (store,) = edge_lines(source, fetch, memory)
    assert "style=dashed" in store and "#894830" in store
    # the fallback edge is red
    (fallback,) = edge_lines(source, fetch, backup)
    assert "#cc1010" in fallback
    # fallback: true is its own green mark
    true_mark = [line for line in source.splitlines() if "shape=plain" in line]
    assert len(true_mark) == 1 and "#5af47b" in true_mark[0]
    (to_mark,) = edge_lines(source, parse, true_mark[0].split()[0])
    assert "#cc1010" in to_mark


def test_storage_drawn_once_for_several_tasks() -> None:
    source = flow_digraph(example_config("docs_flow1"), "flow1").source
    assert sum(1 for line in source.splitlines() if "shape=cylinder" in line) == 1
    assert sum(1 for line in source.splitlines() if "style=dashed" in line) == 3


def test_node_states_colour_a_run() -> None:
    source = flow_digraph(fixture_config(), "main", node_states={"Fetch": "succeeded", "Parse": "failed"}).source
    assert f'fillcolor="{STATE_COLOURS["succeeded"]}"' in node_line(source, "Fetch")
    assert f'fillcolor="{STATE_COLOURS["failed"]}"' in node_line(source, "Parse")
    assert 'fillcolor="#f4f4f4"' in node_line(source, "Report")  # never reached


def test_unknown_flow() -> None:
    with pytest.raises(UnknownFlowGraphError, match="unknown flow 'nope'"):
        flow_digraph(fixture_config(), "nope")


def test_condition_text() -> None:
    leaf = Predicate(name="fieldEqual", node="A", args={"key": ["a", "b"], "value": 3})
    assert condition_text(leaf) == 'fieldEqual(node=A, key=["a", "b"], value=3)'
    tree = And((Predicate("alwaysTrue"), Or((Predicate("isX"), Not(Predicate("isY"))))))
    assert condition_text(tree) == "alwaysTrue() and (isX() or not isY())"
    assert condition_text(Not(And((Predicate("a"), Predicate("b"))))) == "not (a() and b())"


def test_long_conditions_wrap_per_operand() -> None:
    tree = And((Predicate("a"), Or((Predicate("b"), Predicate("c"))), Not(Predicate("d"))))
    assert condition_lines(tree) == ["a()", "and (b() or c())", "and not d()"]
    assert condition_lines(Predicate("a")) == ["a()"]


def test_labels_with_backslashes_quotes_and_html_render(tmp_path: Path) -> None:
    nodes = tmp_path / "nodes.yaml"
    flows = tmp_path / "flows.yaml"
    nodes.write_text(
        "tasks:\n  - {name: A, import: example_tasks, classname: Step, storage: S}\n"
        "  - {name: B, import: example_tasks, classname: Step}\n"
        "storages:\n  - {name: S, import: selinon.storages.memory, classname: InMemoryStorage}\n"
        "flows: [f]\n"
    )
    flows.write_text(
        "flow-definitions:\n  - name: f\n    edges:\n      - {from: , to: A}\n"
        "      - from: A\n        to: B\n        condition:\n          name: fieldEqual\n          node: A\n"
        "          args: {key: '<b>', value: 'a\\d\"x'}\n"
    )
    from selinon_django.config import load_config

    svg = render(flow_digraph(load_config([nodes], [flows]), "f"), "svg").decode()
    assert "&lt;b&gt;" in svg
    assert "a\\\\d" in svg  # the backslash is drawn, not read as a DOT escape


def test_merge_style_keeps_defaults_and_resolves_aliases() -> None:
    style = merge_style({"task": {"fillcolor": "red"}, "edge": {"arrowType": "vee"}})
    assert style["task"] == {**DEFAULT_STYLE["task"], "fillcolor": "red"}
    assert style["edge"]["arrowhead"] == "vee"
    assert "arrowType" not in style["edge"]
    assert merge_style() == DEFAULT_STYLE
    assert merge_style(merge_style({"task": {"shape": "box"}})) == merge_style({"task": {"shape": "box"}})


@pytest.mark.parametrize(
    ("style", "message"),
    [
        ({"tasks": {}}, "tasks: unknown style key"),
        ({"task": "red"}, "task: must be a mapping"),
        ({"task": {"color": ["red"]}}, "task.color: must be a string or a number"),
        (["task"], "a style must be a mapping"),
    ],
)
def test_bad_styles(style: object, message: str) -> None:
    with pytest.raises(GraphStyleError, match=re.escape(message)):
        merge_style(style)  # type: ignore[arg-type]


def test_load_style_file() -> None:
    style = load_style(FIXTURES / "style.yaml")
    assert style["task"]["fillcolor"] == "#123456"
    assert style["graph"] == {"rankdir": "LR"}


def test_load_style_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "style.yaml"
    path.write_text("task: [unclosed\n")
    with pytest.raises(GraphStyleError, match="not valid YAML"):
        load_style(path)


def test_render_formats() -> None:
    digraph = flow_digraph(fixture_config(), "items")
    assert render(digraph, "svg").lstrip().startswith(b"<?xml")
    assert render(digraph, "png").startswith(b"\x89PNG")
    assert render(digraph, "pdf").startswith(b"%PDF")
    with pytest.raises(GraphRenderError, match="unknown graph format 'bmpx'"):
        render(digraph, "bmpx")
    with pytest.raises(GraphRenderError, match="not found"):
        render(digraph, "svg", dot_program="/nonexistent/dot")


def test_configured_style_and_rendering_follow_settings(tmp_path: Path) -> None:
    style_file = tmp_path / "style.yaml"
    style_file.write_text("storage:\n  fillcolor: '#000001'\n")
    with override_settings(SELINON_DJANGO={"GRAPH_STYLE": str(style_file)}):
        assert configured_style()["storage"]["fillcolor"] == "#000001"
        assert b"#000001" in render_flow_graph(fixture_config(), "main", "svg")
    with override_settings(SELINON_DJANGO={"GRAPHS_ENABLED": False}), pytest.raises(GraphRenderError, match="disabled"):
        render_flow_graph(fixture_config(), "main")


def test_node_attributes_are_added_per_node() -> None:
    source = flow_digraph(fixture_config(), "main", node_attributes={"Fetch": {"id": "node-Fetch"}}).source
    assert 'id="node-Fetch"' in node_line(source, "Fetch")
    assert "id=" not in node_line(source, "Parse")
