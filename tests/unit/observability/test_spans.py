"""OpenTelemetry spans of runs and nodes, through the runtime's own functions (messages captured
and served in this process, tests/unit/broker.py), on SQLite and PostgreSQL alike; the SDK's
in-memory exporter receives them. The real workers' spans are checked in
tests/integration/test_observability.py."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from selinon_django.config import SourceFile
from selinon_django.models import FlowRun
from selinon_django.runtime.api import run_flow
from selinon_django.runtime.configs import forget_configs
from selinon_django.runtime.trace_context import run_span_id
from tests.unit.broker import CapturedBroker, install

NODES = """\
tasks:
  - {name: A, import: tests.integration.tasks, classname: Noop}
  - {name: B, import: tests.integration.tasks, classname: Noop}
  - {name: Bad, import: tests.integration.tasks, classname: Fatal}
flows: [outer, chain, failing]
"""
FLOWS = """\
flow-definitions:
  - name: outer
    edges:
      - {from: [], to: [A]}
      - {from: [A], to: [chain]}
  - name: chain
    edges:
      - {from: [], to: [A]}
      - {from: [A], to: [B]}
  - name: failing
    edges:
      - {from: [], to: [Bad]}
"""


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # (set once per process; another test may have)
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    exporter.clear()
    with override_settings(SELINON_DJANGO={**settings.SELINON_DJANGO, "OPENTELEMETRY": True}):
        yield exporter


@pytest.fixture
def broker(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[CapturedBroker]:
    yield install(monkeypatch, [SourceFile("nodes.yaml", "nodes", NODES), SourceFile("flows.yaml", "flows", FLOWS)])
    forget_configs()


def _by_name(spans: InMemorySpanExporter) -> dict[str, list[ReadableSpan]]:
    named: dict[str, list[ReadableSpan]] = {}
    for span in spans.get_finished_spans():
        named.setdefault(span.name, []).append(span)
    return named


def test_a_run_tree_is_one_trace_under_the_caller(broker: CapturedBroker, spans: InMemorySpanExporter) -> None:
    with trace.get_tracer("test").start_as_current_span("caller") as caller:
        run_id = run_flow("outer")
    broker.drain()
    named = _by_name(spans)
    (outer,), (chain,), (caller_span,) = named["flow outer"], named["flow chain"], named["caller"]
    child_id = FlowRun.objects.get(parent_run_id=run_id).pk
    assert outer.parent is not None and outer.parent.span_id == caller.get_span_context().span_id
    assert outer.context.span_id == run_span_id(run_id) and chain.context.span_id == run_span_id(child_id)
    assert chain.parent is not None and chain.parent.span_id == outer.context.span_id
    assert {s.context.trace_id for s in spans.get_finished_spans()} == {caller_span.context.trace_id}
    a_outer, a_chain = sorted(named["node A"], key=lambda s: s.attributes["selinon.run_id"] == child_id)
    (b,) = named["node B"]
    assert a_outer.parent.span_id == outer.context.span_id  # type: ignore[union-attr]
    assert a_chain.parent.span_id == chain.context.span_id and b.parent.span_id == chain.context.span_id  # type: ignore[union-attr]
    attributes: Any = b.attributes
    assert attributes["selinon.flow"] == "chain" and attributes["selinon.node"] == "B"
    assert attributes["selinon.attempt"] == 1 and attributes["selinon.worker"] == "test"
    assert attributes["selinon.status"] == "succeeded" and attributes["selinon.via"] == "message"
    assert outer.attributes["selinon.status"] == "succeeded"  # type: ignore[index]
    # the run spans cover the run: created before the first node started, ended after the last
    assert outer.start_time <= a_outer.start_time and outer.end_time >= chain.end_time  # type: ignore[operator]


def test_a_failure_is_an_error_span_and_a_run_without_a_caller_is_its_own_trace(
        broker: CapturedBroker, spans: InMemorySpanExporter) -> None:
    run_id = run_flow("failing")
    broker.drain()
    named = _by_name(spans)
    (flow,), (bad,) = named["flow failing"], named["node Bad"]
    assert flow.parent is None and flow.context.trace_id == int(run_id.replace("-", ""), 16)
    assert flow.status.status_code == StatusCode.ERROR and bad.status.status_code == StatusCode.ERROR
    (exception,) = [event for event in bad.events if event.name == "exception"]
    assert exception.attributes is not None and exception.attributes["exception.type"] == "FatalTaskError"
    assert FlowRun.objects.get(pk=run_id).trace_context["trace_id"] == f"{flow.context.trace_id:032x}"


def test_off_no_span_and_no_context(broker: CapturedBroker, exporter: InMemorySpanExporter) -> None:
    exporter.clear()
    run_id = run_flow("chain")
    broker.drain()
    assert exporter.get_finished_spans() == ()
    assert FlowRun.objects.get(pk=run_id).trace_context is None
