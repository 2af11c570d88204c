"""The SVG sanitiser: only drawing elements and attributes, only our own kind of links, fail closed."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from selinon_django.graph import SafeDigraph, UnsafeSVGError, flow_digraph, render, sanitise_svg
from tests.unit.commands.helpers import fixture_config

NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
SVG = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


def clean(body: str, root: str = f"<svg {NS}>") -> ElementTree.Element:
    """``body`` inside an <svg>, sanitised and parsed back."""
    return ElementTree.fromstring(sanitise_svg(f"{root}{body}</svg>"))


def names(root: ElementTree.Element) -> list[str]:
    return [element.tag.removeprefix(SVG) for element in root.iter()]


def test_graphviz_output_keeps_its_drawing() -> None:
    digraph = flow_digraph(fixture_config(), "main")
    root = ElementTree.fromstring(render(digraph, "svg"))
    assert root.tag == f"{SVG}svg" and root.get("viewBox")
    groups = [g.get("class") for g in root.iter(f"{SVG}g")]
    assert groups.count("node") == digraph.node_count and groups.count("edge") == digraph.edge_count
    assert "Fetch" in [t.text for t in root.iter(f"{SVG}text")]


@pytest.mark.parametrize(
    "element",
    [
        "<script>alert(1)</script>",
        '<script xlink:href="data:text/javascript,alert(1)"/>',
        "<foreignObject><div xmlns='http://www.w3.org/1999/xhtml'>"
        "<img src='x' onerror='alert(1)'/></div></foreignObject>",
        '<image xlink:href="http://evil.example/x.png"/>',
        '<use xlink:href="http://evil.example/sprite.svg#x"/>',
        '<animate attributeName="href" to="javascript:alert(1)"/>',
        '<set attributeName="onclick" to="alert(1)"/>',
        "<style>* { background: url(http://evil.example/) }</style>",
        "<html:script xmlns:html='http://www.w3.org/1999/xhtml'>alert(1)</html:script>",
        "<script xmlns=''>alert(1)</script>",
    ],
)
def test_active_elements_are_dropped_with_their_content(element: str) -> None:
    root = clean(f'<g id="keep">{element}<text>label</text></g>')
    assert names(root) == ["svg", "g", "text"]
    assert "alert" not in sanitise_svg(f"<svg {NS}><g>{element}</g></svg>")


@pytest.mark.parametrize(
    "attribute",
    [
        'onload="alert(1)"',
        'onclick="alert(1)"',
        'ONMOUSEOVER="alert(1)"',
        'style="background:url(javascript:alert(1))"',
        'style="fill:expression(alert(1))"',
        'fill="url(http://evil.example/#x)"',
        'data-x="1"',
        'xml:base="javascript:/"',
        'id="two words"',
    ],
)
def test_unknown_and_active_attributes_are_dropped(attribute: str) -> None:
    root = clean(f'<polygon points="0,0 1,1" {attribute}/>')
    (polygon,) = root.iter(f"{SVG}polygon")
    assert polygon.attrib == {"points": "0,0 1,1"}


def test_presentation_attributes_and_gradients_stay() -> None:
    root = clean(
        '<defs><linearGradient id="l_0" gradientUnits="userSpaceOnUse" x1="0" y1="0" x2="1" y2="1">'
        '<stop offset="0" style="stop-color:#5cb85c;stop-opacity:1.;"/></linearGradient></defs>'
        '<ellipse fill="url(#l_0)" stroke="black" cx="1" cy="2" rx="3" ry="4"/>'
    )
    (stop,) = root.iter(f"{SVG}stop")
    assert stop.get("style") == "stop-color:#5cb85c;stop-opacity:1."
    (ellipse,) = root.iter(f"{SVG}ellipse")
    assert ellipse.get("fill") == "url(#l_0)" and ellipse.get("rx") == "3"


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        " javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "//evil.example/",
        "/\\evil.example/",
        "http://evil.example/",
        "https://evil.example/",
        "relative/path",
        "#",
        "# spaced",
        "/admin/x y",
    ],
)
def test_links_elsewhere_are_unwrapped(href: str) -> None:
    for attribute in ("xlink:href", "href"):
        root = clean(f'<g><a {attribute}="{href}" xlink:title="t" target="_top"><text>label</text></a></g>')
        assert names(root) == ["svg", "g", "text"], (attribute, href)


@pytest.mark.parametrize("href", ["#selinon-group-3", "/admin/selinon_django/flowrun/abc-123/change/"])
def test_our_own_links_stay(href: str) -> None:
    root = clean(f'<a xlink:href="{href}" xlink:title="Task: 1 succeeded" target="_top"><text>Task</text></a>')
    (link,) = root.iter(f"{SVG}a")
    assert link.get(XLINK_HREF) == href and link.get("target") == "_top"


def test_an_unknown_target_is_dropped() -> None:
    (link,) = clean('<a xlink:href="#x" target="evil"><text>t</text></a>').iter(f"{SVG}a")
    assert link.get("target") is None


def test_text_stays_text() -> None:
    out = sanitise_svg(f"<svg {NS}><text>&lt;script&gt;alert(1)&lt;/script&gt; &amp; \"q\"</text></svg>")
    assert "<script" not in out and "&lt;script&gt;" in out
    assert ElementTree.fromstring(out).find(f"{SVG}text").text == '<script>alert(1)</script> & "q"'  # type: ignore[union-attr]


def test_comments_and_processing_instructions_go() -> None:
    out = sanitise_svg(f'<svg {NS}><!-- <script>alert(1)</script> --><?php echo 1 ?><g id="g"/></svg>')
    assert out == f'<svg {NS}><g id="g"/></svg>'


def test_graphviz_prologue_is_accepted() -> None:
    doc = (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN"\n "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
        f"<!-- Title: g Pages: 1 -->\n<svg {NS}><g/></svg>"
    )
    assert names(ElementTree.fromstring(sanitise_svg(doc))) == ["svg", "g"]


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (
            '<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            f"<svg {NS}><text>&b;</text></svg>",
            "DTD",
        ),
        (f'<!DOCTYPE svg SYSTEM "file:///etc/passwd"><svg {NS}><text>&xxe;</text></svg>', "entity"),
        (f"<svg {NS}><text>&undefined;</text></svg>", "not well-formed"),
        (f"<svg {NS}><g></svg>", "not well-formed"),
        ("<html><body>no svg</body></html>", "not an SVG"),
        ("<svg><g/></svg>", "not an SVG"),  # no SVG namespace: not what graphviz writes
        ("", "not well-formed"),
        (f"<svg {NS}>" + "<g>" * 100 + "</g>" * 100 + "</svg>", "deeper"),
    ],
)
def test_fails_closed(document: str, reason: str) -> None:
    with pytest.raises(UnsafeSVGError, match=reason):
        sanitise_svg(document)


def test_run_graph_links_survive_rendering() -> None:
    digraph = SafeDigraph(name="g")
    digraph.node("n0", label="Task", URL="/admin/selinon_django/flowrun/1/change/", target="_top", id="selinon_node_0")
    digraph.node("n1", label="Other", URL="#selinon-group-1", tooltip="Other: 2 succeeded")
    digraph.node("n2", label="Evil", URL="javascript:alert(1)")
    root = ElementTree.fromstring(render(digraph, "svg"))
    links = {link.get(XLINK_HREF) for link in root.iter(f"{SVG}a")}
    assert links == {"/admin/selinon_django/flowrun/1/change/", "#selinon-group-1"}
    assert root.find(f".//{SVG}g[@id='selinon_node_0']") is not None
