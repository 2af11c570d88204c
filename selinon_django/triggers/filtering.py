"""``context.filter_kwargs(schema)``: validate and convert trigger kwargs with JSON Schema.

The description mirrors a FilterMapper: ``{trigger name: {field: JSON schema of the field}}``.
A listed field is required unless its schema has a ``default`` (filled in) or
``"x-optional": true``; fields not listed are left out of the result, so a task only sees what
it declared. Strings with ``format`` ``date``, ``date-time``, ``uuid`` or ``decimal`` are
checked and converted to ``datetime.date``, ``datetime.datetime``, ``uuid.UUID`` and
``decimal.Decimal``. Every refusal is collected into one :class:`KwargsRefused` whose message
names the trigger and the field, because a task failing on data it received is a problem of
whoever fired the trigger, and they need to know which value to fix.
"""
from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jsonschema

from selinon_django.errors import SelinonDjangoError

__all__ = ["KwargsRefused", "filter_kwargs"]


class KwargsRefused(SelinonDjangoError, ValueError):
    """Trigger kwargs that do not match the task's description; ``problems`` lists each one."""

    def __init__(self, task_name: str, problems: Sequence[str]) -> None:
        self.task_name = task_name
        self.problems = list(problems)
        super().__init__(f"{task_name}: trigger kwargs refused: " + "; ".join(self.problems))


def _datetime(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)


def _decimal(value: str) -> decimal.Decimal:
    result = decimal.Decimal(value)
    if not result.is_finite():
        raise ValueError(value)
    return result


#: ``format`` -> converter (raising ValueError for a string that is not in that format)
CONVERTERS: dict[str, Callable[[str], Any]] = {
    "date": dt.date.fromisoformat,
    "date-time": _datetime,
    "uuid": uuid.UUID,
    "decimal": _decimal,
}

def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())
    for name, converter in CONVERTERS.items():
        checker.checks(name, raises=(ValueError, decimal.InvalidOperation))(
            lambda value, converter=converter: not isinstance(value, str) or converter(value) is not None
        )
    return checker


_FORMAT_CHECKER = _format_checker()


def _optional(schema: Mapping[str, Any]) -> bool:
    return "default" in schema or bool(schema.get("x-optional"))


def _object_schema(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: {k: v for k, v in sub.items() if k != "x-optional"} for name, sub in fields.items()},
        "required": sorted(name for name, sub in fields.items() if not _optional(sub)),
    }


def _convert(schema: Mapping[str, Any], value: Any) -> Any:
    """Apply defaults and format conversions below a value that passed validation."""
    if isinstance(value, str) and schema.get("format") in CONVERTERS:
        return CONVERTERS[schema["format"]](value)
    if isinstance(value, Mapping) and "properties" in schema:
        out = dict(value)
        for name, sub in schema["properties"].items():
            if name in out:
                out[name] = _convert(sub, out[name])
            elif isinstance(sub, Mapping) and "default" in sub:
                out[name] = sub["default"]
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [_convert(schema["items"], item) for item in value]
    return value


def _describe(trigger: str, error: jsonschema.ValidationError) -> str:
    path = [str(p) for p in error.absolute_path]
    where = f"trigger '{trigger}'"
    if path:
        where += f", field '{'.'.join(path)}'"
    if error.validator == "format":
        return f"{where}: {error.instance!r} is not a valid {error.validator_value}"
    return f"{where}: {error.message}"


def filter_kwargs(
    task_name: str, trigger_kwargs: Mapping[str, Any], description: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``{trigger: {field: value}}`` validated and converted; raises :class:`KwargsRefused`."""
    problems: list[str] = []
    result: dict[str, dict[str, Any]] = {}
    for trigger, fields in description.items():
        if not isinstance(fields, Mapping):
            raise TypeError(f"filter_kwargs: the description of trigger '{trigger}' must be a mapping of fields")
        if trigger not in trigger_kwargs:
            known = ", ".join(sorted(trigger_kwargs)) or "none"
            problems.append(f"trigger '{trigger}' did not cause this task (its triggers: {known})")
            continue
        schema = _object_schema(fields)
        jsonschema.Draft202012Validator.check_schema(schema)
        kwargs = trigger_kwargs[trigger] or {}
        validator = jsonschema.Draft202012Validator(schema, format_checker=_FORMAT_CHECKER)
        errors = sorted(validator.iter_errors(kwargs), key=lambda e: [str(p) for p in e.absolute_path])
        if errors:
            problems.extend(_describe(trigger, error) for error in errors)
            continue
        converted = _convert(schema, kwargs)
        result[trigger] = {name: converted[name] for name in fields if name in converted}
    if problems:
        raise KwargsRefused(task_name, problems)
    return result
