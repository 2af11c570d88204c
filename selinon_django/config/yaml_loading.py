"""Safe YAML loading that remembers where each mapping and list started.

Only ``yaml.SafeLoader`` constructs are allowed (no Python object tags). Anchors, aliases and
``<<:`` merge keys work as in any YAML 1.1 loader. Mappings and lists come back as ``dict`` and
``list`` subclasses carrying the line they start on, so an error found later (a JSON Schema
violation or a semantic check) can say where to look.

Uploaded YAML is hostile input, so a document is measured before it is built: nesting depth
while reading its events (PyYAML composes recursively, so a 1,000-deep document would raise
``RecursionError``), and the size it would have with every alias expanded, counted on the node
graph in linear time (a 900-byte "billion laughs" document is ten million nodes to every later
pass: schema validation, normalising, hashing). Strings PostgreSQL cannot store (NUL, lone
surrogates) are refused here too, so every layer after this one gets storable text.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml import events, nodes

from selinon_django.errors import ConfigIssue

__all__ = ["YAML_LIMITS", "LineDict", "LineList", "YamlError", "YamlLimits", "line_of", "load_yaml", "split_path"]


@dataclass(frozen=True)
class YamlLimits:
    """How big a configuration document may be, counted after alias expansion."""

    #: nested mappings and lists (real configurations stay below 15)
    max_depth: int = 64
    #: mappings, lists and scalars with every alias expanded (a big configuration: ~50,000)
    max_nodes: int = 250_000
    #: characters of all scalars with every alias expanded (a long string aliased many times)
    max_chars: int = 16_000_000


YAML_LIMITS = YamlLimits()


class LineDict(dict[Any, Any]):
    """A mapping from YAML with the (1-based) line it starts on."""

    line: int | None = None


class LineList(list[Any]):
    """A list from YAML with the (1-based) line it starts on."""

    line: int | None = None


class YamlError(Exception):
    """The text is not YAML (or not a mapping at the top); ``issue`` says where."""

    def __init__(self, issue: ConfigIssue) -> None:
        super().__init__(str(issue))
        self.issue = issue


class _Loader(yaml.SafeLoader):
    """SafeLoader whose containers remember their line; timestamps stay strings (JSON-ready)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Iterator[LineDict]:
    data = LineDict()
    data.line = node.start_mark.line + 1
    yield data
    # SafeConstructor.construct_mapping resolves ``<<`` merge keys for us.
    data.update(loader.construct_mapping(node))


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> Iterator[LineList]:
    data = LineList()
    data.line = node.start_mark.line + 1
    yield data
    data.extend(loader.construct_sequence(node))


def _construct_timestamp(loader: _Loader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
#: a loader of no document, whose float constructor reads single scalar nodes
_NUMBER_LOADER = _Loader("")


def _unstorable(value: str) -> str | None:
    """Why PostgreSQL could not store ``value`` (None: it can)."""
    if "\x00" in value:
        return "a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "a lone surrogate (not valid Unicode)"
    return None


def _check_events(text: str, file: str, limits: YamlLimits) -> None:
    """Depth and storable scalars, read from the event stream (iterative: no recursion)."""
    loader = _Loader(text)
    try:
        depth = 0
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, (events.MappingStartEvent, events.SequenceStartEvent)):
                depth += 1
                if depth > limits.max_depth:
                    line = event.start_mark.line + 1 if event.start_mark else "?"
                    raise YamlError(ConfigIssue(
                        file, "", f"nesting deeper than {limits.max_depth} levels at line {line}"
                    ))
            elif isinstance(event, (events.MappingEndEvent, events.SequenceEndEvent)):
                depth -= 1
            elif isinstance(event, events.ScalarEvent):
                problem = _unstorable(event.value)
                if problem is not None:
                    line = event.start_mark.line + 1 if event.start_mark else "?"
                    raise YamlError(ConfigIssue(file, "", f"a string at line {line} holds {problem}"))
    finally:
        loader.dispose()


#: digits an integer may have (Python refuses to convert more than 4,300; no setting needs 30)
_MAX_INT_CHARS = 30


def _check_number(node: nodes.ScalarNode, file: str) -> None:
    """Numbers JSON and the database can hold: finite floats, integers of sane length."""
    line = node.start_mark.line + 1 if node.start_mark else "?"
    if node.tag == "tag:yaml.org,2002:float":
        try:
            finite = math.isfinite(_Loader.construct_yaml_float(_NUMBER_LOADER, node))
        except (ValueError, OverflowError):
            finite = False
        if not finite:
            message = f"the number at line {line} is not finite (.inf and .nan are refused)"
            raise YamlError(ConfigIssue(file, "", message))
    elif node.tag == "tag:yaml.org,2002:int" and len(node.value) > _MAX_INT_CHARS:
        raise YamlError(ConfigIssue(file, "", f"the integer at line {line} has more than {_MAX_INT_CHARS} characters"))


def _expanded_size(root: nodes.Node, file: str, limits: YamlLimits) -> tuple[int, int]:
    """(nodes, characters) of the document with every alias expanded; refuses cycles and
    oversize documents.

    Each distinct node is sized once (aliases share the node object), so this is linear in the
    written document however large its expansion.
    """
    sizes: dict[int, tuple[int, int]] = {}
    in_progress: set[int] = set()
    too_big = (
        f"the document expands to more than {limits.max_nodes} values or {limits.max_chars} characters "
        "(aliases counted as often as they are used)"
    )

    def size(node: nodes.Node) -> tuple[int, int]:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in in_progress:
            line = node.start_mark.line + 1 if node.start_mark else "?"
            raise YamlError(ConfigIssue(file, "", f"an alias at line {line} refers to a node that contains it"))
        in_progress.add(key)
        count, chars = 1, 0
        if isinstance(node, nodes.ScalarNode):
            chars = len(node.value)
            _check_number(node, file)
        else:
            children = node.value if isinstance(node, nodes.SequenceNode) else [n for pair in node.value for n in pair]
            for child in children:
                child_count, child_chars = size(child)
                count += child_count
                chars += child_chars
        in_progress.discard(key)
        if count > limits.max_nodes or chars > limits.max_chars:
            raise YamlError(ConfigIssue(file, "", too_big))
        sizes[key] = (count, chars)
        return count, chars

    return size(root)


def load_yaml(text: str, file: str, limits: YamlLimits = YAML_LIMITS) -> LineDict:
    """Parse one configuration file; an empty file is an empty mapping.

    Raises :class:`YamlError` for invalid YAML, a top level that is not a mapping, or a document
    over ``limits``.
    """
    try:
        _check_events(text, file, limits)
        loader = _Loader(text)  # derives from SafeLoader: no object tags
        try:
            root = loader.get_single_node()
            if root is None:
                return LineDict()
            _expanded_size(root, file, limits)
            data = loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = error.problem or error.context or "invalid YAML"
        raise YamlError(ConfigIssue(file, "", f"invalid YAML{where}: {problem}")) from error
    except yaml.YAMLError as error:
        raise YamlError(ConfigIssue(file, "", f"invalid YAML: {error}")) from error
    if not isinstance(data, LineDict):
        raise YamlError(ConfigIssue(file, "", "the top level must be a mapping (tasks, flows, storages, ...)"))
    return data


_PATH_TOKEN = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def split_path(path: str) -> list[str | int]:
    """``'flow-definitions[0].edges[3]'`` -> ``['flow-definitions', 0, 'edges', 3]``."""
    return [int(index) if index else key for index, key in _PATH_TOKEN.findall(path)]


def line_of(data: Any, path: str) -> int | None:
    """The line of the deepest container on ``path`` that loading recorded (None if unknown)."""
    line = getattr(data, "line", None)
    current = data
    for part in split_path(path):
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            break
        line = getattr(current, "line", line)
    return line
