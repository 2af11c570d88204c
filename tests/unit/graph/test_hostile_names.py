"""Property: no name or condition text an uploader can write makes a graph carry a link or a script.

Random flow, task and storage names and condition arguments (angle brackets, quotes, braces,
``javascript:``, newlines, backslashes, unicode) go through the real loader into a definition
graph and a run graph. Checked twice: graphviz's own output for the DOT we wrote (quoting alone
must hold), and the sanitised SVG the admin and the API hand out.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from xml.etree import ElementTree

from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from selinon_django.config import SourceFile, load_config_from_sources
from selinon_django.config.model import SystemConfig
from selinon_django.errors import ConfigurationError
from selinon_django.graph import SafeDigraph, flow_digraph, render
from selinon_django.graph.rendering import find_dot

SVG = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"

NASTY = [
    "<", ">", '"', "'", "{", "}", "[", "]", ";", "=", "\\", "\n", "\r", "\t", ":", "#", "&", " ", "-", "/",
    "javascript:", "JaVaScRiPt:alert(1)", "data:text/html,", "vbscript:", "<a>", "</a>", "<script>",
    'URL="javascript:alert(1)"', "href=", "onload=", "\\N", "\\G", "\\l", "\\\"", "]; x [", "} digraph {",
    "<<b>", "é", "ß", "🙂", "\u202e", "\x07", "&amp;", "<!--", "-->", "]]>",
]
# YAML refuses lone surrogates and raw control characters (the loader's tests cover that); the
# C0 controls above reach it JSON-escaped, as an uploader would write them
characters = st.characters(exclude_categories=["Cs", "Cc"])
fragments = st.one_of(st.sampled_from(NASTY), st.text(characters, min_size=1, max_size=3))
names = st.lists(fragments, min_size=1, max_size=6).map("".join)
# "/" separates a node from a sub-flow's node in a condition's ``node``: not in task names
task_names = names.map(lambda name: name.replace("/", "|"))


def hostile_config(flow: str, task: str, storage: str, value: str) -> SystemConfig:
    document = {
        "tasks": [
            {"name": task, "import": "example_tasks", "classname": "Step", "storage": storage},
            {"name": "Next", "import": "example_tasks", "classname": "Step"},
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
                        "to": "Next",
                        "condition": {"name": "fieldEqual", "node": task, "args": {"key": value, "value": value}},
                    },
                ],
                "failures": [
                    {
                        "nodes": task,
                        "fallback": "Next",
                        "condition": {"name": "argsFieldEqual", "args": {"key": value, "value": value}},
                    }
                ],
            }
        ],
    }
    try:
        return load_config_from_sources([SourceFile("upload.yaml", "nodes", json.dumps(document, ensure_ascii=False))])
    except ConfigurationError:
        assume(False)  # the loader refuses it: nothing to draw
        raise


def only_flow(config: SystemConfig) -> str:
    """The flow's name as loaded (YAML reads some line-break characters in a string as spaces)."""
    (name,) = config.flows
    return name


def raw_svg(digraph: SafeDigraph) -> ElementTree.Element:
    """What graphviz itself makes of our DOT, before the sanitiser sees it."""
    dot = find_dot()
    assert dot is not None
    completed = subprocess.run([dot, "-Tsvg"], input=digraph.source.encode(), capture_output=True, check=True)
    return ElementTree.fromstring(completed.stdout)


#: attributes a browser follows or evaluates (a title or a text may say "javascript:": it is text)
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "to", "from", "values", "by", "style", "fill"})


def dangerous(root: ElementTree.Element) -> list[str]:
    """Scripts, foreign content, event handlers and script-scheme URLs anywhere in the drawing."""
    found = []
    for element in root.iter():
        local = element.tag.rpartition("}")[2].lower()
        if local in ("script", "foreignobject", "iframe", "image", "use", "animate", "set"):
            found.append(f"element {local}")
        for name, value in element.attrib.items():
            attribute = name.rpartition("}")[2].lower()
            squashed = "".join(value.split()).lower()
            if attribute.startswith("on"):
                found.append(f"attribute {attribute}")
            if attribute in URL_ATTRIBUTES and any(s in squashed for s in ("javascript:", "vbscript:", "data:")):
                found.append(f"{attribute}={value!r}")
    return found


def links(root: ElementTree.Element) -> list[str | None]:
    return [a.get(XLINK_HREF) or a.get("href") for a in root.iter(f"{SVG}a")]


def node_groups(root: ElementTree.Element, kind: str) -> int:
    return sum(1 for group in root.iter(f"{SVG}g") if group.get("class") == kind)


PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],  # no slow "explain" phase
)


@PROPERTY
@given(flow=names, task=task_names, storage=names, value=names)
def test_definition_graphs_hold_no_link_and_no_script(flow: str, task: str, storage: str, value: str) -> None:
    assume(len({task, storage, "Next"}) == 3)
    config = hostile_config(flow, task, storage, value)
    digraph = flow_digraph(config, only_flow(config))
    for root in (raw_svg(digraph), ElementTree.fromstring(render(digraph, "svg"))):
        assert links(root) == []
        assert dangerous(root) == []
        # dot drew exactly the nodes and edges we wrote: the names added none
        assert node_groups(root, "node") == digraph.node_count
        assert node_groups(root, "edge") == digraph.edge_count


@PROPERTY
@given(flow=names, task=task_names, storage=names, value=names, tooltip=names)
def test_run_graphs_keep_only_their_own_links(flow: str, task: str, storage: str, value: str, tooltip: str) -> None:
    assume(len({task, storage, "Next"}) == 3)
    config = hostile_config(flow, task, storage, value)
    flow = only_flow(config)
    (task,) = (name for name in config.flows[flow].ordered_nodes() if name != "Next")
    run_link = f"/admin/selinon_django/flowrun/{uuid.uuid4()}/change/"
    attributes = {
        task: {"id": "selinon_node_0", "tooltip": f"{task}: {tooltip}", "xlabel": tooltip, "URL": run_link,
               "target": "_top"},
        "Next": {"id": "selinon_node_1", "tooltip": tooltip, "URL": "#selinon-group-1"},
    }
    digraph = flow_digraph(config, flow, node_states={task: "failed"}, node_attributes=attributes)
    for root in (raw_svg(digraph), ElementTree.fromstring(render(digraph, "svg"))):
        assert sorted(link or "" for link in links(root)) == sorted([run_link, "#selinon-group-1"])
        assert dangerous(root) == []
        assert node_groups(root, "node") == digraph.node_count
