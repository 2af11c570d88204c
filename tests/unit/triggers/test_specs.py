"""Trigger configurations: the Python form and the YAML ``triggers:`` section share one schema."""
from __future__ import annotations

import pytest

from selinon_django.config.load import config_from_normalised, load_documents
from selinon_django.config.normalise import content_hash, normalise
from selinon_django.config.parse import Document
from selinon_django.errors import ConfigurationError
from selinon_django.triggers.specs import TriggerConfigurationError, TriggerSpec, parse_configuration

BASE = {
    "tasks": [{"name": "A", "import": "x.y"}],
    "flows": ["f"],
    "flow-definitions": [{"name": "f", "edges": [{"from": [], "to": "A"}]}],
}


def test_python_configuration_is_parsed() -> None:
    specs = parse_configuration({"t": {"after": "a", "run": "m.C", "max_retries": 1, "priority": 3}})
    assert specs == {"t": TriggerSpec(name="t", after=("a",), run="m.C", max_retries=1, priority=3)}
    assert specs["t"].to_dict() == {"after": ["a"], "run": "m.C", "max_retries": 1, "priority": 3}


def test_every_problem_is_reported() -> None:
    with pytest.raises(TriggerConfigurationError) as caught:
        parse_configuration({"t": {"after": [], "run": "m.C"}, "u": {"run": "x", "when": 1}})
    message = str(caught.value)
    assert "t.after: [] should be non-empty" in message
    assert "u: 'after' is a required property" in message
    assert "Additional properties are not allowed ('when' was unexpected)" in message


def test_yaml_triggers_round_trip_and_leave_other_configurations_unchanged() -> None:
    plain = load_documents([Document("a.yaml", BASE)])
    with_triggers = load_documents([Document("a.yaml", dict(BASE, triggers={"t": {"after": "a", "run": "f"}}))])
    assert dict(plain.triggers) == {}
    assert "triggers" not in normalise(plain)
    data = normalise(with_triggers)
    assert data["triggers"] == {"t": {"after": ["a"], "run": "f"}}
    assert normalise(config_from_normalised(data)) == data
    assert content_hash(with_triggers) != content_hash(plain)


def test_yaml_run_must_be_a_flow_or_a_dotted_path() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_documents([Document("a.yaml", dict(BASE, triggers={"t": {"after": ["a"], "run": "nope"}}))])
    assert str(caught.value) == (
        "a.yaml: triggers.t.run: 'nope' is neither a flow of this configuration nor a dotted 'module.Class' path"
    )
