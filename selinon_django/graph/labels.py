"""Readable text for conditions, foreach and selective edges in graph nodes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from selinon_django.config.model import And, Condition, Edge, Not, Or, Predicate


def _value(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def condition_text(condition: Condition) -> str:
    """``fieldEqual(node=Task1, key="foo", value="bar") and not alwaysFalse()`` and so on."""
    if isinstance(condition, Predicate):
        parts: list[str] = []
        if condition.node is not None:
            parts.append(f"node={condition.node}")
        args: Mapping[str, Any] = condition.args
        parts.extend(f"{key}={_value(value)}" for key, value in args.items())
        return f"{condition.name}({', '.join(parts)})"
    if isinstance(condition, Not):
        inner = condition_text(condition.child)
        return f"not {inner}" if isinstance(condition.child, (Predicate, Not)) else f"not ({inner})"
    if isinstance(condition, (And, Or)):
        word = " and " if isinstance(condition, And) else " or "
        texts = []
        for child in condition.children:
            text = condition_text(child)
            texts.append(f"({text})" if isinstance(child, (And, Or)) else text)
        return word.join(texts)
    raise TypeError(f"not a condition: {condition!r}")


def condition_lines(condition: Condition) -> list[str]:
    """A condition over several lines: a top-level and/or puts each operand on its own line,
    so a long condition makes a tall node rather than one that stretches the whole graph."""
    if isinstance(condition, (And, Or)) and len(condition.children) > 1:
        word = "and" if isinstance(condition, And) else "or"
        texts = [
            f"({condition_text(child)})" if isinstance(child, (And, Or)) else condition_text(child)
            for child in condition.children
        ]
        return [texts[0], *(f"{word} {text}" for text in texts[1:])]
    return [condition_text(condition)]


def edge_lines(edge: Edge) -> list[str]:
    """The lines of an edge's condition node: condition, then foreach and selective details."""
    lines = ["True"] if edge.condition_default else condition_lines(edge.condition)
    if edge.foreach is not None:
        lines.append(f"foreach {edge.foreach.function.dotted}")
        if edge.foreach.propagate_result:
            lines.append("propagate_result")
    if edge.selective is not None:
        lines.append(f"selective: {', '.join(edge.selective.tasks)}")
        flags = [flag for flag in ("follow_subflows", "run_subsequent") if getattr(edge.selective, flag)]
        if flags:
            lines.append(", ".join(flags))
    return lines
