"""filter_kwargs: JSON-schema validation and conversion, refusals naming trigger and field."""
from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytest

from selinon_django.triggers.filtering import KwargsRefused, filter_kwargs

PAGE = {
    "firstPageReceived": {
        "responses": {
            "type": "object",
            "properties": {"birthday": {"type": "string", "format": "date"}, "name": {"type": "string"}},
            "required": ["birthday", "name"],
        },
    },
}


def test_converts_formats_and_keeps_only_declared_fields() -> None:
    kwargs = {"paid": {"on": "2024-02-29T10:00:00Z", "id": "5f0c6f53-8a4a-4b1b-9d0e-1f7c8b6a0c11",
                       "amount": "10.50", "extra": 1}}
    out = filter_kwargs("t", kwargs, {"paid": {
        "on": {"type": "string", "format": "date-time"},
        "id": {"type": "string", "format": "uuid"},
        "amount": {"type": "string", "format": "decimal"},
    }})
    assert out == {"paid": {
        "on": dt.datetime(2024, 2, 29, 10, 0, tzinfo=dt.UTC),
        "id": uuid.UUID("5f0c6f53-8a4a-4b1b-9d0e-1f7c8b6a0c11"),
        "amount": decimal.Decimal("10.50"),
    }}


def test_nested_objects_are_converted() -> None:
    out = filter_kwargs("t", {"firstPageReceived": {"responses": {"birthday": "1990-05-01", "name": "Ann"}}}, PAGE)
    assert out["firstPageReceived"]["responses"] == {"birthday": dt.date(1990, 5, 1), "name": "Ann"}


def test_defaults_fill_missing_fields_and_optional_fields_may_be_missing() -> None:
    out = filter_kwargs("t", {"a": {}}, {"a": {"n": {"type": "integer", "default": 3},
                                               "m": {"type": "integer", "x-optional": True}}})
    assert out == {"a": {"n": 3}}


def test_refusal_names_task_trigger_and_field() -> None:
    kwargs = {"firstPageReceived": {"responses": {"birthday": "1990-13-01", "name": 7}}}
    with pytest.raises(KwargsRefused) as caught:
        filter_kwargs("t_importSubject", kwargs, PAGE)
    message = str(caught.value)
    assert message.startswith("t_importSubject: trigger kwargs refused: ")
    assert "trigger 'firstPageReceived', field 'responses.birthday': '1990-13-01' is not a valid date" in message
    assert "trigger 'firstPageReceived', field 'responses.name': 7 is not of type 'string'" in message
    assert len(caught.value.problems) == 2


def test_missing_required_field_and_missing_trigger_are_refused() -> None:
    with pytest.raises(KwargsRefused) as caught:
        filter_kwargs("t", {"a": {}}, {"a": {"n": {"type": "integer"}}, "b": {}})
    assert caught.value.problems == [
        "trigger 'a': 'n' is a required property",
        "trigger 'b' did not cause this task (its triggers: a)",
    ]
