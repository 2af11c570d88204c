"""Graph styles: the documented defaults of Selinon's ``plot`` and user overrides from YAML.

The keys and default attributes are the ones the documentation's "Plotting flow graphs" section
lists. An override file only needs the attributes it changes; the rest keep their defaults.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

DEFAULT_STYLE: dict[str, dict[str, str]] = {
    "task": {"style": "filled", "color": "black", "fillcolor": "#66cfa7", "shape": "ellipse"},
    "flow": {"style": "filled", "color": "black", "fillcolor": "#197a9f", "shape": "box3d"},
    "condition": {"style": "filled", "color": "gray", "fillcolor": "#e8e3c8", "shape": "octagon"},
    "condition_foreach": {"style": "filled", "color": "gray", "fillcolor": "#e8e3c8", "shape": "doubleoctagon"},
    "storage": {"style": "filled", "color": "black", "fillcolor": "#894830", "shape": "cylinder"},
    "edge": {"arrowhead": "open", "color": "black"},
    "store_edge": {"arrowhead": "open", "color": "#894830", "style": "dashed"},
    "fallback_edge": {"arrowhead": "open", "color": "#cc1010"},
    "fallback_true": {"style": "filled", "color": "black", "fillcolor": "#5af47b", "shape": "plain"},
    "graph": {},
}

STYLE_KEYS = frozenset(DEFAULT_STYLE)

#: Selinon's style files say ``arrowtype``/``arrowType``, which graphviz does not know; the
#: attribute that draws the arrow head is ``arrowhead``.
_ATTRIBUTE_ALIASES = {"arrowtype": "arrowhead"}

Style = dict[str, dict[str, str]]

#: graphviz attribute names are plain words; anything else could not be written into DOT safely
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class GraphStyleError(ValueError):
    """A style file or mapping that cannot be used (names the key that is wrong)."""


def merge_style(*overrides: Mapping[str, Any] | None) -> Style:
    """The default style with each of ``overrides`` applied in turn, attribute by attribute."""
    style = copy.deepcopy(DEFAULT_STYLE)
    for override in overrides:
        for key, attributes in validate_style(override).items():
            style[key].update(attributes)
    return style


def validate_style(overrides: Mapping[str, Any] | None) -> Style:
    """Style overrides checked and normalised (attribute values as strings, aliases resolved)."""
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise GraphStyleError(f"a style must be a mapping of {', '.join(sorted(STYLE_KEYS))}")
    result: Style = {}
    for key, attributes in overrides.items():
        if key not in STYLE_KEYS:
            raise GraphStyleError(f"{key}: unknown style key (known: {', '.join(sorted(STYLE_KEYS))})")
        if attributes is None:
            continue
        if not isinstance(attributes, Mapping):
            raise GraphStyleError(f"{key}: must be a mapping of graphviz attributes")
        checked: dict[str, str] = {}
        for attribute, value in attributes.items():
            if not isinstance(attribute, str) or not _ATTRIBUTE_NAME.match(attribute):
                raise GraphStyleError(
                    f"{key}: attribute names must be plain words (letters, digits, _), not {attribute!r}"
                )
            if isinstance(value, (dict, list)) or value is None:
                raise GraphStyleError(f"{key}.{attribute}: must be a string or a number")
            name = _ATTRIBUTE_ALIASES.get(attribute.lower(), attribute)
            checked[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        result[key] = checked
    return result


def read_style_file(path: str | Path) -> Style:
    """The overrides a style YAML file holds (validated, not merged)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GraphStyleError(f"{path}: cannot read the style file ({exc.strerror or exc})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise GraphStyleError(f"{path}: not valid YAML ({exc})") from exc
    try:
        return validate_style(data or {})
    except GraphStyleError as exc:
        raise GraphStyleError(f"{path}: {exc}") from exc


def load_style(path: str | Path) -> Style:
    """Read a style YAML file and merge it over the defaults."""
    return merge_style(read_style_file(path))
