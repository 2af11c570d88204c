"""First pass over each file: the JSON Schema in ``schema.json``, turned into readable issues.

The schema is the single description of the file format (editors can use it for completion);
this module only translates jsonschema's errors into ``file: key.path: what is wrong`` with
the closest known key suggested for a typo.
"""
from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any

import jsonschema

from selinon_django.errors import ConfigIssue

__all__ = ["format_path", "load_schema", "schema_issues", "suggest"]

_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "nothing (null)",
}


@functools.cache
def load_schema() -> dict[str, Any]:
    """The JSON Schema of a configuration file (shipped as package data)."""
    text = resources.files("selinon_django.config").joinpath("schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    schema = load_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def format_path(parts: Iterable[Any]) -> str:
    """``['flow-definitions', 0, 'edges']`` -> ``'flow-definitions[0].edges'``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def join_path(base: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}.{key}" if base else key


def suggest(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a close known word, else an empty string."""
    matches = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _messages(error: jsonschema.ValidationError) -> list[tuple[str, str]]:
    """(path, message) pairs for one jsonschema error."""
    path = format_path(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    validator: Any = error.validator
    expected: Any = error.validator_value
    if validator == "additionalProperties" and isinstance(instance, dict):
        known = schema.get("properties", {})
        return [
            (path, f"unknown key '{key}'{suggest(str(key), known)}")
            for key in instance
            if key not in known
        ]
    if validator == "required" and isinstance(instance, dict):
        return [(path, f"missing required key '{key}'") for key in expected if key not in instance]
    if validator == "dependentRequired" and isinstance(instance, dict):
        # error.message names the dependent key; rebuild a short sentence from the schema instead
        for key, needed in expected.items():
            if key in instance:
                missing = [n for n in needed if n not in instance]
                if missing:
                    return [(path, f"'{key}' needs '{missing[0]}'")]
    if validator == "oneOf" and "x-error-oneOf" in schema:
        return [(path, str(schema["x-error-oneOf"]))]
    if "x-error" in schema:
        return [(path, str(schema["x-error"]))]
    if validator == "type":
        wanted = expected if isinstance(expected, list) else [expected]
        words = " or ".join(_TYPE_WORDS.get(str(w), str(w)) for w in wanted)
        return [(path, f"expected {words}, got {_type_name(instance)}")]
    if validator in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        op = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}[validator]
        return [(path, f"must be {op} {expected}, got {instance!r}")]
    if validator == "minItems":
        return [(path, "must not be empty")]
    if validator == "minLength":
        return [(path, "must not be an empty string")]
    return [(path, error.message)]


def schema_issues(data: Any, file: str) -> list[ConfigIssue]:
    """Every schema violation of one file's data, in a stable order."""
    issues: list[ConfigIssue] = []
    for error in _validator().iter_errors(data):
        issues.extend(ConfigIssue(file, path, message) for path, message in _messages(error))
    return issues


def sort_issues(issues: Sequence[ConfigIssue], lines: dict[tuple[str, str], int | None]) -> list[ConfigIssue]:
    """Order by file then line (unknown lines last), then path."""
    def key(issue: ConfigIssue) -> tuple[str, int, str]:
        line = lines.get((issue.file, issue.path))
        return (issue.file, line if line is not None else 1 << 30, issue.path)

    return sorted(issues, key=key)
