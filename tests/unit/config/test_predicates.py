"""Built-in predicates: Selinon's names and signatures, nested keys, never raising."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from selinon_django import predicates as p
from selinon_django.predicates import BUILTIN_PREDICATES
from selinon_django.predicates.calling import call_predicate, predicate_signature

DOCS = Path("/work/shared/spec/selinon-documentation.txt")


@pytest.mark.skipif(not DOCS.exists(), reason="documentation not present")
def test_every_documented_predicate_exists_with_its_parameters() -> None:
    documented = dict(re.findall(r"^selinon\.predicates\.(\w+)\.\w+\(([^)]*)\)", DOCS.read_text(), re.M))
    assert len(documented) >= 69
    for name, params in documented.items():
        assert name in BUILTIN_PREDICATES, name
        signature = predicate_signature(BUILTIN_PREDICATES[name])
        ours = set(signature.required_args)
        if signature.needs_message:
            ours.add("message")
        if signature.needs_node_args:
            ours.add("node_args")
        assert ours == {param.strip() for param in params.split(",") if param.strip()}, name


MESSAGE = {"foo": {"bar": "baz", "n": 3, "items": [1, 2], "url": "https://example.com/x/y", "none": None}, "t": True}


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("fieldEqual", {"key": ["foo", "bar"], "value": "baz"}, True),
        ("fieldEqual", {"key": "foo.bar", "value": "baz"}, False),
        ("fieldEqual", {"key": ["foo", "missing"], "value": None}, False),
        ("fieldNotEqual", {"key": ["foo", "bar"], "value": "x"}, True),
        ("fieldExist", {"key": ["foo", "none"]}, True),
        ("fieldExist", {"key": ["foo", "bar", "deeper"]}, False),
        ("fieldNone", {"key": ["foo", "none"]}, True),
        ("fieldNone", {"key": ["foo", "absent"]}, False),
        ("fieldGreater", {"key": ["foo", "n"], "value": 2}, True),
        ("fieldGreater", {"key": ["foo", "bar"], "value": 2}, False),  # str > int: False, not TypeError
        ("fieldLessEqual", {"key": ["foo", "n"], "value": 3}, True),
        ("fieldLenEqual", {"key": ["foo", "items"], "length": 2}, True),
        ("fieldLenGreater", {"key": ["foo", "n"], "length": 0}, False),  # int has no len
        ("fieldContain", {"key": ["foo", "items"], "value": 2}, True),
        ("fieldInt", {"key": "t"}, False),  # a boolean is not an integer
        ("fieldBool", {"key": "t"}, True),
        ("fieldDict", {"key": "foo"}, True),
        ("fieldList", {"key": ["foo", "items"]}, True),
        ("fieldList", {"key": ["foo", "items", 0]}, False),
        ("fieldInt", {"key": ["foo", "items", 1]}, True),
        ("fieldUrlNetloc", {"key": ["foo", "url"], "netloc": "example.com"}, True),
        ("fieldUrlScheme", {"key": ["foo", "url"], "scheme": "https"}, True),
        ("fieldUrlPath", {"key": ["foo", "url"], "path": "/x/y"}, True),
        ("fieldUrlPath", {"key": ["foo", "n"], "path": "/x/y"}, False),
        ("isDict", {}, True),
        ("isList", {}, False),
        ("empty", {}, False),
        ("alwaysTrue", {}, True),
        ("alwaysFalse", {}, False),
    ],
)
def test_message_predicates(name: str, args: dict[str, object], expected: bool) -> None:
    assert call_predicate(BUILTIN_PREDICATES[name], args, message=MESSAGE, node_args=None) is expected


def test_args_predicates_read_node_args_not_the_message() -> None:
    node_args = {"a": [1, 2, 3]}
    assert call_predicate(p.argsFieldLenEqual, {"key": "a", "length": 3}, message={}, node_args=node_args)
    assert not call_predicate(p.argsFieldExist, {"key": "a"}, message=node_args, node_args={})
    assert call_predicate(p.argsEmpty, {}, message=node_args, node_args=None)
    assert call_predicate(p.argsIsNone, {}, node_args=None)
    assert not call_predicate(p.argsIsInt, {}, node_args=True)


def test_predicates_never_raise_on_odd_input() -> None:
    for name, function in BUILTIN_PREDICATES.items():
        signature = predicate_signature(function)
        if name == "httpStatus":
            continue
        args = {arg: object() for arg in signature.required_args}
        assert call_predicate(function, args, message=object(), node_args=object()) in (True, False), name


def test_environment_predicates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELINON_TEST_VAR", "on")
    monkeypatch.delenv("SELINON_TEST_ABSENT", raising=False)
    assert p.envEqual(env="SELINON_TEST_VAR", value="on")
    assert not p.envEqual(env="SELINON_TEST_VAR", value="off")
    assert p.envExist(env="SELINON_TEST_VAR")
    assert not p.envExist(env="SELINON_TEST_ABSENT")


def test_http_status_is_false_when_nothing_answers() -> None:
    # port 9 on localhost: connection refused at once, no network needed
    assert p.httpStatus(host="127.0.0.1:9", path="/", status=200) is False


def test_signature_and_call_only_pass_what_is_asked_for() -> None:
    signature = predicate_signature(p.fieldEqual)
    assert signature.required_args == {"key", "value"}
    assert (signature.needs_message, signature.needs_node_args) == (True, False)
    seen: dict[str, object] = {}

    def custom(node_args: object, limit: int = 3, **rest: object) -> bool:
        seen.update(node_args=node_args, limit=limit, rest=rest)
        return True

    custom_signature = predicate_signature(custom)
    assert custom_signature.required_args == frozenset()
    assert custom_signature.optional_args == {"limit", "**"}
    assert call_predicate(custom, {"extra": 1}, message="ignored", node_args={"a": 1}) is True
    assert seen == {"node_args": {"a": 1}, "limit": 3, "rest": {"extra": 1}}
