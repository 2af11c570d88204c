"""Trace events match Selinon's table; every backend; a failing backend never breaks tracing."""
from __future__ import annotations

import io
import json
import logging
import re
import socket
import sys
import types
from typing import Any

import pytest

from selinon_django.config.model import TraceEntry, freeze
from selinon_django.trace import tracer as tracer_module
from selinon_django.trace.events import DOCUMENTED_DETAILS, EVENT_DETAILS, EVENT_NAMES, Trace
from selinon_django.trace.tracer import (
    JsonBackend,
    LoggingBackend,
    Tracer,
    add_process_backend,
    remove_process_backend,
)
from tests.conftest import SPEC
from tests.unit.storages.helpers import Recorder

RECEIVED: list[tuple[int, dict[str, Any]]] = []


def record_function(event: int, msg_dict: dict[str, Any]) -> None:
    RECEIVED.append((event, msg_dict))


def failing_function(event: int, msg_dict: dict[str, Any]) -> None:
    raise RuntimeError("trace function bug")


def entry(kind: str, **options: Any) -> TraceEntry:
    return TraceEntry(kind=kind, options=freeze(options))  # type: ignore[arg-type]


def documented_trace_section() -> str:
    text = (SPEC / "selinon-documentation.txt").read_text()
    start = text.index("class selinon.trace.Trace")
    return text[start : text.index("classmethod event2str", start)]


def test_every_documented_event_with_its_number() -> None:
    documented = {
        name: int(number) for name, number in re.findall(r"^([A-Z_]+) = (\d+)$", documented_trace_section(), re.M)
    }
    assert len(documented) == 53
    ours = {name: number for number, name in EVENT_NAMES.items()}
    assert ours == documented
    warn = re.search(r"^WARN_EVENTS = \(([\d, ]+)\)$", documented_trace_section(), re.M)
    assert warn is not None
    assert tuple(int(n) for n in warn.group(1).split(",")) == Trace.WARN_EVENTS
    assert Trace.event2str(Trace.FLOW_FAILURE) == "FLOW_FAILURE" and Trace.str2event("TASK_START") == 4


def test_event_details_cover_every_event_and_the_documented_keys() -> None:
    assert set(EVENT_DETAILS) == set(EVENT_NAMES)
    assert set(EVENT_DETAILS[Trace.TASK_SCHEDULE]) == {
        "countdown", "condition_str", "task_name", "queue", "node_args", "dispatcher_id", "parent", "task_id",
        "selective", "foreach_str", "flow_name", "selective_edge",
    }
    assert EVENT_DETAILS[Trace.STORAGE_CONNECT] == ("storage_name",)
    assert Trace.SELECTIVE_RUN_FUNC in DOCUMENTED_DETAILS


def test_logging_backend_format_and_levels(caplog: pytest.LogCaptureFixture) -> None:
    tracer = Tracer.from_entries([entry("logging")])
    with caplog.at_level(logging.INFO, logger="selinon_django.trace"):
        tracer.trace(Trace.TASK_SCHEDULE, {"flow_name": "flow1", "task_name": "T1"})
        tracer.trace(Trace.FLOW_FAILURE, flow_name="flow1")
    info, warning = caplog.records
    assert (info.levelno, warning.levelno) == (logging.INFO, logging.WARNING)
    match = re.fullmatch(r"SELINON (\S+) - TASK_SCHEDULE : (\{.*\})", info.getMessage())
    assert match is not None and match.group(1) == socket.gethostname()
    message = json.loads(match.group(2))
    assert message["event"] == "TASK_SCHEDULE"
    assert message["details"] == {"flow_name": "flow1", "task_name": "T1"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", message["time"])
    assert "- FLOW_FAILURE : " in warning.getMessage()


def test_logging_false_is_off() -> None:
    assert not Tracer.from_entries([entry("logging", enabled=False), entry("json", enabled=False)]).enabled


def test_json_backend_one_line_per_event(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    tracer = Tracer([JsonBackend(stream)])
    tracer.trace(Trace.TASK_START, {"node_args": {"a": [1, 2]}, "odd": {1, 2}.__class__})
    tracer.trace(Trace.TASK_FAILURE, {"what": "multi\nline"})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["event"] == "TASK_START" and first["details"]["node_args"] == {"a": [1, 2]}
    assert second["details"]["what"] == "multi\nline"
    # configured from YAML: stdout, warnings on stderr (as Selinon)
    default = Tracer.from_entries([entry("json")])
    default.trace(Trace.FLOW_END, {})
    default.trace(Trace.NODE_FAILURE, {})
    out, err = capsys.readouterr()
    assert json.loads(out)["event"] == "FLOW_END" and json.loads(err)["event"] == "NODE_FAILURE"


def test_function_backend_gets_event_and_flat_details() -> None:
    RECEIVED.clear()
    tracer = Tracer.from_entries([entry("function", name="record_function", **{"import": __name__})])
    tracer.trace(Trace.FLOW_FAILURE, {"flow_name": "flow1"})
    assert RECEIVED == [(Trace.FLOW_FAILURE, {"flow_name": "flow1"})]


def test_failing_function_never_breaks_tracing(caplog: pytest.LogCaptureFixture) -> None:
    RECEIVED.clear()
    tracer = Tracer.from_entries(
        [
            entry("function", name="failing_function", **{"import": __name__}),
            entry("function", name="record_function", module=__name__),
        ]
    )
    with caplog.at_level(logging.ERROR, logger=tracer_module.__name__):
        tracer.trace(Trace.TASK_END, {"task_name": "T1"})  # does not raise
    assert RECEIVED == [(Trace.TASK_END, {"task_name": "T1"})]
    assert "trace backend" in caplog.text and "trace function bug" in caplog.text


def test_backends_get_their_own_copy_of_details() -> None:
    def mutating(event: int, details: dict[str, Any]) -> None:
        details["flow_name"] = "changed"

    recorder = Recorder()
    Tracer([mutating, recorder]).trace(Trace.FLOW_END, {"flow_name": "flow1"})
    assert recorder.events == [(Trace.FLOW_END, {"flow_name": "flow1"})]


def test_unbuildable_entry_is_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger=tracer_module.__name__):
        tracer = Tracer.from_entries([entry("function", name="nope", module="no_such_module_x"), entry("logging")])
    assert len(tracer.backends) == 1 and isinstance(tracer.backends[0], LoggingBackend)
    assert "cannot set up the function trace entry" in caplog.text


def test_storage_backend_calls_the_named_method() -> None:
    class Adapter:
        def __init__(self) -> None:
            self.calls: list[tuple[int, dict[str, Any]]] = []

        def trace(self, event: int, details: dict[str, Any]) -> None:
            self.calls.append((event, details))

    adapter = Adapter()
    looked_up: list[str] = []

    def lookup(name: str) -> Adapter:
        looked_up.append(name)
        return adapter

    tracer = Tracer.from_entries([entry("storage", name="TraceDB", method="trace")], storage_lookup=lookup)
    tracer.trace(Trace.NODE_SUCCESSFUL, {"node_name": "T1"})
    assert adapter.calls == [(Trace.NODE_SUCCESSFUL, {"node_name": "T1"})] and looked_up == ["TraceDB"]


class FakeScope:
    def __init__(self, sdk: FakeSentry) -> None:
        self.sdk = sdk

    def __enter__(self) -> FakeScope:
        return self

    def __exit__(self, *args: Any) -> None:
        pass

    def set_tag(self, key: str, value: str) -> None:
        self.sdk.tags[key] = value

    def set_extra(self, key: str, value: Any) -> None:
        self.sdk.extras[key] = value


class FakeSentry(types.ModuleType):
    def __init__(self) -> None:
        super().__init__("sentry_sdk")
        self.inits: list[str] = []
        self.exceptions: list[BaseException] = []
        self.messages: list[str] = []
        self.tags: dict[str, str] = {}
        self.extras: dict[str, Any] = {}

    def init(self, dsn: str) -> None:
        self.inits.append(dsn)

    def new_scope(self) -> FakeScope:
        return FakeScope(self)

    def capture_exception(self, exc: BaseException) -> None:
        self.exceptions.append(exc)

    def capture_message(self, message: str, level: str) -> None:
        self.messages.append(message)


def test_sentry_reports_task_failures_only(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSentry()
    monkeypatch.setitem(sys.modules, "sentry_sdk", fake)
    monkeypatch.setattr(tracer_module.SentryBackend, "_initialised", set())
    dsn = "http://key@sentry.invalid/2"
    tracer = Tracer.from_entries([entry("sentry", dsn=dsn), entry("sentry", dsn=dsn)])
    assert fake.inits == [dsn]  # initialised once per process
    error = ValueError("boom")
    tracer.trace(Trace.TASK_START, {"task_name": "T1"})
    tracer.trace(Trace.TASK_FAILURE, {"task_name": "T1", "task_id": "i1", "exception": error})
    tracer.trace(Trace.TASK_FAILURE, {"task_name": "T2", "what": "Traceback ..."})
    assert fake.exceptions == [error, error]  # two entries configured, both report
    assert fake.messages == ["task T2 failed: Traceback ...", "task T2 failed: Traceback ..."]
    assert fake.tags["task_name"] == "T2"


def test_sentry_missing_warns_once(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "sentry_sdk", None)  # makes the import fail
    monkeypatch.setattr(tracer_module, "_sentry_warned", False)
    with caplog.at_level(logging.WARNING, logger=tracer_module.__name__):
        tracer = Tracer.from_entries([entry("sentry", dsn="x"), entry("sentry", dsn="y")])
    assert tracer.backends == ()
    assert caplog.text.count("sentry-sdk is not installed") == 1


def test_add_backend_and_process_backends() -> None:
    tracer = Tracer()
    assert not tracer.enabled
    mine, everywhere = Recorder(), Recorder()
    tracer.add_backend(mine)
    add_process_backend(everywhere)
    add_process_backend(everywhere)  # idempotent
    try:
        other = Tracer()
        assert other.enabled
        tracer.trace(Trace.FLOW_START, flow_name="f1")
        other.trace(Trace.FLOW_END, flow_name="f2")
    finally:
        remove_process_backend(everywhere)
    tracer.remove_backend(mine)
    tracer.trace(Trace.FLOW_START, flow_name="after")
    assert mine.events == [(Trace.FLOW_START, {"flow_name": "f1"})]
    assert everywhere.names() == ["FLOW_START", "FLOW_END"]


def test_a_backend_tracing_from_inside_itself_does_not_loop() -> None:
    tracer = Tracer()
    seen: list[int] = []

    def reentrant(event: int, details: dict[str, Any]) -> None:
        seen.append(event)
        tracer.trace(Trace.STORAGE_CONNECT, storage_name="x")  # would recurse forever without the guard

    recorder = Recorder()
    tracer.add_backend(reentrant)
    tracer.add_backend(recorder)
    tracer.trace(Trace.FLOW_START, {})
    assert seen == [Trace.FLOW_START]
    assert recorder.names() == ["STORAGE_CONNECT", "FLOW_START"]  # the nested event still reaches others
