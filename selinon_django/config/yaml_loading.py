"""Safe YAML loading that remembers where each mapping and list started.

Only ``yaml.SafeLoader`` constructs are allowed (no Python object tags). Anchors, aliases and
``<<:`` merge keys work as in any YAML 1.1 loader. Mappings and lists come back as ``dict`` and
``list`` subclasses carrying the line they start on, so an error found later (a JSON Schema
violation or a semantic check) can say where to look.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

from selinon_django.errors import ConfigIssue

__all__ = ["LineDict", "LineList", "YamlError", "line_of", "load_yaml", "split_path"]


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


def load_yaml(text: str, file: str) -> LineDict:
    """Parse one configuration file; an empty file is an empty mapping.

    Raises :class:`YamlError` for invalid YAML or a top level that is not a mapping.
    """
    try:
        data = yaml.load(text, Loader=_Loader)  # _Loader derives from SafeLoader: no object tags
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = error.problem or error.context or "invalid YAML"
        raise YamlError(ConfigIssue(file, "", f"invalid YAML{where}: {problem}")) from error
    except yaml.YAMLError as error:
        raise YamlError(ConfigIssue(file, "", f"invalid YAML: {error}")) from error
    if data is None:
        return LineDict()
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
