"""SafeDigraph: whatever a name, a text or an attribute value holds, it stays one DOT string."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree

import pytest

from selinon_django.config import SourceFile, load_config_from_sources
from selinon_django.config.model import SystemConfig
from selinon_django.graph import GraphStyleError, SafeDigraph, flow_digraph, label_lines, render, validate_style

SVG = "{http://www.w3.org/2000/svg}"
#: the flow name of the report: it closed the graph's name and wrote a node with a javascript: URL
REPORTED = '<a> { x [URL="javascript:alert(1)"] } digraph <b>'


def hostile_config(flow: str = REPORTED, task: str = "T", storage: str = "S", value: str = "v") -> SystemConfig:
    """A configuration as an uploader could write it: names and condition arguments are theirs."""
    document = {
        "tasks": [
            {"name": task, "import": "example_tasks", "classname": "Step", "storage": storage},
            {"name": "B", "import": "example_tasks", "classname": "Step"},
        ],
        "storages": [{"name": storage, "import": "selinon.storages.memory", "classname": "InMemoryStorage"}],
        "flows": [flow],
        "flow-definitions": [
            {
                "name": flow,
                "edges": [
                    {"from": None, "to": task},
                    {
                        "from": task,
                        "to": "B",
                        "condition": {"name": "fieldEqual", "node": task, "args": {"key": value, "value": value}},
                    },
                ],
                "failures": [{"nodes": task, "fallback": "B"}],
            }
        ],
    }
    return load_config_from_sources([SourceFile("hostile.yaml", "nodes", json.dumps(document))])


def svg_tree(svg: bytes) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def drawn_nodes(svg: bytes) -> list[str]:
    """The <title> of every node group dot drew (our own ids: node0, edge1, ...)."""
    root = svg_tree(svg)
    return [
        group.findtext(f"{SVG}title") or ""
        for group in root.iter(f"{SVG}g")
        if group.get("class") == "node"
    ]


def test_the_reported_flow_name_is_one_quoted_graph_name() -> None:
    digraph = flow_digraph(hostile_config(), REPORTED)
    first_line = digraph.source.splitlines()[0]
    assert first_line == 'digraph "<a> { x [URL=\\"javascript:alert(1)\\"] } digraph <b>" {'
    svg = render(digraph, "svg")
    # dot drew exactly the nodes we asked for, none of the name's own
    assert sorted(drawn_nodes(svg)) == sorted(["node0", "node1", "edge2", "edge3", "storage4"])
    root = svg_tree(svg)
    assert not list(root.iter(f"{SVG}a"))
    assert not [value for element in root.iter() for value in element.attrib.values() if "javascript" in value]
    # the name is text: the graph's title
    assert [element.text for element in root.iter() if "javascript" in (element.text or "")] == [REPORTED]


@pytest.mark.parametrize(
    "name",
    [
        "<b>bold<b>",  # an HTML-like label if it were not quoted as text ("/" would split a name)
        "x\\",  # a final backslash would escape our closing quote
        'x\\" URL="javascript:alert(1)',  # an escaped quote that is really a backslash and a quote
        "node",  # a DOT keyword
        "a:b:n",  # a port and compass point if it were a node id
        "\\N\\G\\L",  # escapes dot would expand
    ],
)  # names with control characters (a line break) are refused by the loader (schema.json "name")
def test_names_are_drawn_as_written(name: str) -> None:
    svg = render(flow_digraph(hostile_config(flow="f", task=name, storage=name), "f"), "svg")
    texts = [text.text or "" for text in svg_tree(svg).iter(f"{SVG}text")]
    assert name.replace("\n", "") in "".join(texts).replace("\n", "") or name in texts
    assert not list(svg_tree(svg).iter(f"{SVG}a"))
    assert len(drawn_nodes(svg)) == 5


def test_attribute_values_cannot_end_their_string() -> None:
    digraph = SafeDigraph(name="g")
    digraph.node("n0", label="x", tooltip="ends with a backslash\\", id='quote" URL="javascript:alert(1)')
    line = digraph.source.splitlines()[1]
    assert line == '\tn0 [label=x id="quote\\" URL=\\"javascript:alert(1)" tooltip="ends with a backslash\\\\"]'
    svg = render(digraph, "svg").decode()
    assert 'id="quote' not in svg  # not an id the sanitiser keeps, and never a second attribute
    assert "href" not in svg


def test_control_characters_become_replacement_characters() -> None:
    digraph = SafeDigraph(name="g")
    digraph.node("n0", label="nul\x00bell\x07")
    assert "nul\ufffdbell\ufffd" in digraph.source
    assert "nul\ufffdbell\ufffd" in render(digraph, "svg").decode()


def test_label_lines_keep_their_line_breaks_and_literal_backslashes() -> None:
    digraph = SafeDigraph()
    digraph.node("n0", label=label_lines("a\\d", 'say "hi"'))
    assert 'label="a\\\\d\\nsay \\"hi\\""' in digraph.source
    texts = [t.text for t in svg_tree(render(digraph, "svg")).iter(f"{SVG}text")]
    assert texts == ["a\\d", 'say "hi"']


@pytest.mark.parametrize("node_id", ["a b", "a:b", "<x>", "node", "", "1abc"])
def test_node_ids_must_be_plain_identifiers(node_id: str) -> None:
    digraph = SafeDigraph()
    with pytest.raises(ValueError, match="plain identifier"):
        digraph.node(node_id)
    with pytest.raises(ValueError, match="plain identifier"):
        digraph.edge("n0", node_id)


def test_attribute_names_must_be_plain_identifiers() -> None:
    digraph = SafeDigraph()
    with pytest.raises(ValueError, match="attribute name"):
        digraph.node("n0", _attributes={"URL=javascript:x label": "y"})
    with pytest.raises(GraphStyleError, match="plain words"):
        validate_style({"task": {"x] n1 [URL": "javascript:x"}})


def test_graph_attributes_set_later_are_quoted_too() -> None:
    digraph = SafeDigraph(name="g")
    digraph.graph_attr["label"] = "<<b>html</b>>"
    digraph.attr("node", fontname="a] evil [b")
    source = digraph.source
    assert 'label="<<b>html</b>>"' in source
    assert 'node [fontname="a] evil [b"]' in source


def test_comments_are_one_line() -> None:
    with pytest.raises(ValueError, match="one line"):
        SafeDigraph(comment="x\n} digraph y {")


def test_size_counts_nodes_edges_and_subgraphs() -> None:
    digraph = SafeDigraph()
    digraph.node("a")
    digraph.node("b")
    digraph.edge("a", "b")
    digraph.edges([("b", "a"), ("a", "a")])
    inner = SafeDigraph(name="cluster_x")
    inner.node("c")
    inner.edge("c", "a")
    digraph.subgraph(inner)
    assert (digraph.node_count, digraph.edge_count) == (3, 4)
    with pytest.raises(TypeError):
        digraph.subgraph(name="cluster_y")


def test_flow_graph_counts_what_it_draws() -> None:
    digraph = flow_digraph(hostile_config(flow="f"), "f")
    assert (digraph.node_count, digraph.edge_count) == (5, 5)
    assert digraph.node_count == len(re.findall(r"^\t\w+ \[", digraph.source, flags=re.MULTILINE))
