"""SVG drawn by ``dot`` rebuilt from an allow-list before a page inlines it or the API serves it.

The graphs draw names and texts from uploaded configuration. :mod:`~selinon_django.graph.digraph`
quotes all of them, so ``dot`` cannot be told to draw a link or a script; this module is the
second line of defence, for whatever a future graphviz or a style attribute might still let
through. The SVG is parsed as XML with the standard library's expat, refusing any DTD internal
subset, entity declaration or entity it does not know (no entity is ever expanded), and a new
document is written holding only

- the elements graphviz draws with (no ``script``, ``foreignObject``, ``image``, ``use``,
  ``style``, animation...),
- the presentation attributes graphviz writes (no ``on*`` handler, no unknown attribute),
  ``url(...)`` values only as ``url(#id)``, ``style`` only as colour and opacity declarations,
- links (``href``/``xlink:href``) only to a fragment of the page (``#selinon-group-3``) or a path
  of this site (``/admin/...``): the links our run graphs put in. An ``<a>`` without such a link
  is unwrapped (its drawing stays, the element goes).

Comments and processing instructions are dropped. Anything that does not parse, or whose root is
not an SVG ``<svg>``, raises :class:`UnsafeSVGError`: the caller shows a notice instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NoReturn
from xml.parsers import expat

from selinon_django.graph.errors import UnsafeSVGError

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
_SEPARATOR = " "
#: deeper than any drawing graphviz makes; deeper is refused rather than walked
MAX_DEPTH = 64

ELEMENTS = frozenset(
    {
        "svg", "g", "title", "desc", "defs", "linearGradient", "radialGradient", "stop",
        "polygon", "polyline", "path", "ellipse", "circle", "rect", "line", "text", "tspan", "a",
    }
)

#: attributes in no namespace that may stay, on any allowed element
ATTRIBUTES = frozenset(
    {
        "id", "class", "transform", "width", "height", "viewBox", "preserveAspectRatio",
        "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity",
        "stroke-dasharray", "stroke-dashoffset", "stroke-linecap", "stroke-linejoin",
        "stroke-miterlimit", "opacity", "points", "d", "cx", "cy", "r", "rx", "ry", "x", "y",
        "x1", "y1", "x2", "y2", "fx", "fy", "offset", "gradientUnits", "gradientTransform",
        "spreadMethod", "text-anchor", "font-family", "font-size", "font-weight", "font-style",
        "font-variant", "text-decoration", "baseline-shift", "dominant-baseline", "letter-spacing",
        "textLength", "lengthAdjust", "target", "style", "href",
    }
)

#: namespaced attributes that may stay, with the prefix they are written with
XLINK_ATTRIBUTES = frozenset({"href", "title"})

_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]*\Z")
_TARGETS = frozenset({"_top", "_self", "_parent", "_blank"})
_FRAGMENT = re.compile(r"#[A-Za-z_][A-Za-z0-9_.:-]*\Z")
#: a path of this site: one leading slash (not two: "//host" is another site), no backslash,
#: no whitespace or control character, no scheme possible
_SITE_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9/_.~%!$&'()*+,;=:@?#-]*\Z")
_URL_VALUE = re.compile(r"url\(\s*#[A-Za-z_][A-Za-z0-9_.:-]*\s*\)\Z")
_STYLE_PROPERTIES = frozenset({"stop-color", "stop-opacity", "fill", "fill-opacity", "stroke", "stroke-opacity"})
_STYLE_VALUE = re.compile(r"[#A-Za-z0-9.,%() -]*\Z")


@dataclass
class _Element:
    name: str
    attributes: dict[str, str]
    children: list[_Element | str] = field(default_factory=list)


def sanitise_svg(svg: bytes | str) -> str:
    """The drawing rebuilt from allowed elements and attributes (an ``<svg>`` element, no prologue)."""
    root = _parse(svg)
    if root.name != f"{SVG_NS}{_SEPARATOR}svg":
        raise UnsafeSVGError("the graph is not an SVG drawing")
    parts: list[str] = []
    _write(root, parts, root=True)
    return "".join(parts)


def _refuse(what: str) -> NoReturn:
    raise UnsafeSVGError(f"the SVG holds {what}")


def _parse(svg: bytes | str) -> _Element:
    data = svg.encode("utf-8") if isinstance(svg, str) else svg
    parser = expat.ParserCreate(encoding=None, namespace_separator=_SEPARATOR)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    document = _Element("", {})
    stack = [document]

    def doctype(name: str, system_id: str | None, public_id: str | None, has_internal_subset: bool) -> None:
        # graphviz names the SVG 1.1 DTD by its public id; a DTD with declarations of its own is
        # not something graphviz writes, and entities declared there could expand.
        if has_internal_subset:
            _refuse("a DTD with declarations")

    def start(name: str, attributes: dict[str, str]) -> None:
        if len(stack) > MAX_DEPTH:
            _refuse(f"elements nested deeper than {MAX_DEPTH}")
        element = _Element(name, attributes)
        stack[-1].children.append(element)
        stack.append(element)

    def end(name: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        children = stack[-1].children
        if children and isinstance(children[-1], str):
            children[-1] += data
        else:
            children.append(data)

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = lambda *args: _refuse("an entity declaration")
    parser.UnparsedEntityDeclHandler = lambda *args: _refuse("an entity declaration")
    parser.ExternalEntityRefHandler = lambda *args: _refuse("an external entity")
    parser.SkippedEntityHandler = lambda name, is_parameter: _refuse(f"an unknown entity {name!r}")
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise UnsafeSVGError(f"the SVG is not well-formed XML ({error})") from None
    elements = [child for child in document.children if isinstance(child, _Element)]
    if len(elements) != 1:
        raise UnsafeSVGError("the SVG has no single root element")
    return elements[0]


def _local(name: str, namespace: str) -> str | None:
    """The local name of ``name`` ("namespace local") when it is in ``namespace``."""
    space, separator, local = name.rpartition(_SEPARATOR)
    return local if separator and space == namespace else None


def _safe_link(value: str) -> bool:
    return bool(_FRAGMENT.match(value) or _SITE_PATH.match(value))


def _safe_style(value: str) -> str | None:
    declarations = []
    for declaration in value.split(";"):
        if not declaration.strip():
            continue
        prop, colon, prop_value = declaration.partition(":")
        prop, prop_value = prop.strip().lower(), prop_value.strip()
        if not colon or prop not in _STYLE_PROPERTIES or not _STYLE_VALUE.match(prop_value) or "(" in prop_value:
            return None
        declarations.append(f"{prop}:{prop_value}")
    return ";".join(declarations) or None


def _safe_attributes(attributes: Mapping[str, str]) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name, value in attributes.items():
        xlink = _local(name, XLINK_NS)
        if xlink in XLINK_ATTRIBUTES:
            written = f"xlink:{xlink}"
        elif _SEPARATOR not in name and name in ATTRIBUTES:
            written = name
        else:
            continue  # on* handlers, other namespaces, anything graphviz does not write
        local = xlink or name
        if local == "href":
            if not _safe_link(value):
                continue
        elif local == "id":
            if not _ID.match(value):
                continue
        elif local == "target":
            if value not in _TARGETS:
                continue
        elif local == "style":
            style = _safe_style(value)
            if style is None:
                continue
            value = style
        elif "url(" in value.lower() and not _URL_VALUE.match(value.strip()):
            continue
        kept[written] = value
    return kept


def _escape(text: str, *, attribute: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if attribute:
        text = text.replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    return text


def _write(element: _Element, parts: list[str], *, root: bool = False) -> None:
    local = _local(element.name, SVG_NS)
    if local not in ELEMENTS:
        return  # dropped with everything inside it
    attributes = _safe_attributes(element.attributes)
    if local == "a" and not any(name in attributes for name in ("href", "xlink:href")):
        # a link to nowhere we allow: keep the drawing inside, drop the element
        _write_children(element, parts)
        return
    parts.append(f"<{local}")
    if root:
        parts.append(f' xmlns="{SVG_NS}" xmlns:xlink="{XLINK_NS}"')
    parts.extend(f' {name}="{_escape(value, attribute=True)}"' for name, value in attributes.items())
    if not element.children:
        parts.append("/>")
        return
    parts.append(">")
    _write_children(element, parts)
    parts.append(f"</{local}>")


def _write_children(element: _Element, parts: list[str]) -> None:
    for child in element.children:
        if isinstance(child, str):
            parts.append(_escape(child))
        else:
            _write(child, parts)
