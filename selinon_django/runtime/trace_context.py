"""The W3C trace context a flow run carries, so that its spans form one trace across processes.

A run is a span that lives longer than any process: it starts where ``run_flow`` is called and
ends in whichever worker records its end, and its nodes' spans (children of it) start in other
workers before it ends. So the run span's ids are known in advance instead of being generated
when it is emitted: its span id is derived from the run id (:func:`run_span_id`), and the run's
row keeps the rest (``FlowRun.trace_context``):

- ``trace_id`` (32 hex digits): the trace of the code that called ``run_flow`` when it had a
  span, else one derived from the run id; a sub-flow has its parent run's;
- ``parent_span_id`` (16 hex digits, optional): the run span's parent - the caller's span for a
  root run, the parent run's span for a sub-flow;
- ``flags``: the W3C trace flags (1: sampled), decided once for the whole trace.

Every process that handles one of the run's nodes - from its own message, a batched message or
inline after its predecessor, a resend by the sweeper, a retry - finds the context through the
run id the message names. Pure Python: OpenTelemetry itself is used only by
:mod:`selinon_django.observability.otel`.
"""
from __future__ import annotations

import hashlib
import uuid
from typing import Any

TRACE_ID = "trace_id"
PARENT_SPAN_ID = "parent_span_id"
FLAGS = "flags"


def run_span_id(run_id: str) -> int:
    """The span id of a run's span: 64 bits derived from the run id (never 0, which is invalid)."""
    value = int.from_bytes(hashlib.blake2b(run_id.encode(), digest_size=8).digest(), "big")
    return value or 1


def run_trace_id(run_id: str) -> int:
    """The trace id of a root run started outside any span: its run id when that is a UUID (a
    trace found by the run id), else 128 bits derived from it."""
    try:
        value = uuid.UUID(run_id).int
    except ValueError:
        value = int.from_bytes(hashlib.blake2b(run_id.encode(), digest_size=16).digest(), "big")
    return value or 1


def root_context(trace_id: int, flags: int, parent_span_id: int | None = None) -> dict[str, Any]:
    """The context recorded for a root run (``parent_span_id``: the caller's span)."""
    context: dict[str, Any] = {TRACE_ID: f"{trace_id:032x}", FLAGS: int(flags)}
    if parent_span_id:
        context[PARENT_SPAN_ID] = f"{parent_span_id:016x}"
    return context


def child_context(parent_context: dict[str, Any] | None, parent_run_id: str) -> dict[str, Any] | None:
    """The context of a sub-flow of the run ``parent_run_id`` (None when the parent has none)."""
    if not parent_context:
        return None
    return {TRACE_ID: parent_context[TRACE_ID], FLAGS: int(parent_context.get(FLAGS, 1)),
            PARENT_SPAN_ID: f"{run_span_id(parent_run_id):016x}"}


def trace_id(context: dict[str, Any]) -> int:
    return int(context[TRACE_ID], 16)


def parent_span_id(context: dict[str, Any]) -> int | None:
    value = context.get(PARENT_SPAN_ID)
    return int(value, 16) if value else None


def flags(context: dict[str, Any]) -> int:
    return int(context.get(FLAGS, 1))
