"""The demo project's Celery app with an OpenTelemetry SDK that writes every finished span to a file.

``celery -A tests.integration.observed_app worker`` with ``SELINON_TEST_SPANS=<path>``: what a
project does to export its spans (a TracerProvider with a span processor), with the SDK's console
exporter writing one JSON document per line to that file, appended by every worker process as
each span ends, for the test to read. Production code knows nothing of it.
"""
from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from demo_project.celery import app

__all__ = ["app"]


def _line(span: ReadableSpan) -> str:
    return span.to_json(indent=None) + "\n"


# line-buffered and appended: each span is one write, whichever pool process ends it
_spans = open(os.environ["SELINON_TEST_SPANS"], "a", buffering=1)  # noqa: SIM115 (open for the process's life)
_provider = TracerProvider(resource=Resource.create({"service.name": "selinon-test-worker"}))
_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=_spans, formatter=_line)))
trace.set_tracer_provider(_provider)
