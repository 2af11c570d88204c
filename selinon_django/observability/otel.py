"""OpenTelemetry: every flow run a span, every node run's attempt a child span, one trace per run
tree (``SELINON_DJANGO["OPENTELEMETRY"]``).

Spans go through the TracerProvider the project configures (``trace.set_tracer_provider`` - in
a prefork worker, typically in Celery's ``worker_process_init``); this module only uses the
OpenTelemetry API and reads the SDK tracer's ``id_generator`` and ``sampler`` when it has them.

- **Run spans.** A run's span starts when the run is created and ends when it ends, in whatever
  processes those happen; it is emitted once, at the end (the ``flow_finished`` signal), with
  the run's creation time as its start. Its ids are fixed in advance (see
  :mod:`selinon_django.runtime.trace_context`): the span id derived from the run id, the trace
  id and sampling decision recorded with the run. A root run started inside a span (the code
  that called ``run_flow``, or a task that starts a flow) is that span's child; a sub-flow's run
  span is its parent run's child.
- **Node spans.** Each attempt of a task is a span, a child of its run's span, from the trace
  events ``TASK_START`` to ``TASK_END``/``TASK_FAILURE``/``TASK_RETRY``, current while the task
  runs (the task's own spans nest under it). Attributes: flow, node, node id, run id, revision,
  attempt, queue, worker, how it came (its own message, a batched message, inline), status and
  the exception of a failure. The worker finds its run's context through the run id every
  message names (one query per run and process, cached).
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.utils import timezone
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags

from selinon_django import __version__
from selinon_django.models.runs import FlowRun, FlowRunStatus
from selinon_django.runtime import observers, trace_context
from selinon_django.signals import flow_finished
from selinon_django.trace.events import Trace
from selinon_django.trace.tracer import add_process_backend, remove_process_backend

logger = logging.getLogger(__name__)

TRACER_NAME = "selinon_django"
#: attribute names (one namespace; the queue also under OpenTelemetry's messaging convention)
FLOW, NODE, NODE_ID, RUN_ID, REVISION = "selinon.flow", "selinon.node", "selinon.node_id", "selinon.run_id", \
    "selinon.revision"
ATTEMPT, QUEUE, WORKER, VIA, STATUS = "selinon.attempt", "selinon.queue", "selinon.worker", "selinon.via", \
    "selinon.status"
PARENT_RUN_ID, ERROR = "selinon.parent_run_id", "selinon.error"
MESSAGING_DESTINATION = "messaging.destination.name"

#: how many runs' contexts a process keeps (a run's context never changes)
CONTEXT_CACHE_SIZE = 4096

_END_STATUS = {Trace.TASK_END: "succeeded", Trace.TASK_FAILURE: "failed", Trace.TASK_RETRY: "retried"}


def _nanoseconds(moment: datetime | None) -> int:
    return int((moment or timezone.now()).timestamp() * 1_000_000_000)


class PresetIds:
    """The id generator of this module's tracer: the provider's own, except for ids preset for the
    next span started on this thread (a run's span, whose ids its nodes used before it existed)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._local = threading.local()

    @contextmanager
    def preset(self, span_id: int, trace_id: int | None = None) -> Iterator[None]:
        self._local.span_id, self._local.trace_id = span_id, trace_id
        try:
            yield
        finally:
            self._local.span_id = self._local.trace_id = None

    def generate_span_id(self) -> int:
        preset = getattr(self._local, "span_id", None)
        if preset:
            self._local.span_id = None
            return int(preset)
        return int(self.inner.generate_span_id())

    def generate_trace_id(self) -> int:
        preset = getattr(self._local, "trace_id", None)
        if preset:
            self._local.trace_id = None
            self._local.preset_trace = True
            return int(preset)
        self._local.preset_trace = False
        return int(self.inner.generate_trace_id())

    def is_trace_id_random(self) -> bool:
        if getattr(self._local, "preset_trace", False):
            return False
        check = getattr(self.inner, "is_trace_id_random", None)
        return bool(check()) if check is not None else False


class _Open(threading.local):
    span: Any = None
    token: Any = None


class RunTracer(observers.Observer):
    """Spans of runs and nodes (a trace backend, a ``flow_finished`` receiver, an observer)."""

    def __init__(self) -> None:
        self._provider: Any = None
        self._tracer: Any = None
        self._ids: PresetIds | None = None
        self._lock = threading.Lock()
        self._open = _Open()
        self._contexts: OrderedDict[str, dict[str, Any]] = OrderedDict()

    # --- the tracer of the provider configured now ---------------------------------------------

    def tracer(self) -> Any:
        """This module's tracer from the current global provider (looked up each time: a worker
        typically sets its provider after Django is ready, in each pool process)."""
        provider = trace.get_tracer_provider()
        if provider is not self._provider:
            with self._lock:
                tracer: Any = provider.get_tracer(TRACER_NAME, __version__)
                inner = getattr(tracer, "id_generator", None)
                self._ids = PresetIds(inner) if inner is not None else None
                if self._ids is not None:
                    tracer.id_generator = self._ids  # (the SDK tracer's own attribute, this tracer only)
                self._tracer, self._provider = tracer, provider
        return self._tracer

    # --- a new root run -------------------------------------------------------------------------

    def run_trace_context(self, run_id: str) -> dict[str, Any] | None:
        caller = trace.get_current_span().get_span_context()
        if caller.is_valid:
            return trace_context.root_context(caller.trace_id, int(caller.trace_flags), caller.span_id)
        trace_id = trace_context.run_trace_id(run_id)
        return trace_context.root_context(trace_id, self._root_flags(trace_id))

    def _root_flags(self, trace_id: int) -> int:
        """The provider's sampling decision for a new trace (sampled when it has no sampler)."""
        sampler = getattr(self.tracer(), "sampler", None)
        if sampler is None:
            return int(TraceFlags.SAMPLED)
        result = sampler.should_sample(otel_context.Context(), trace_id, "selinon.flow_run")
        return int(TraceFlags.SAMPLED) if result.decision.is_sampled() else int(TraceFlags.DEFAULT)

    # --- node spans (a trace backend) -----------------------------------------------------------

    def __call__(self, event: int, details: dict[str, Any]) -> None:
        if event == Trace.TASK_START:
            self._start_node(details)
        elif event in _END_STATUS:
            self._end_node(_END_STATUS[event], details)

    def _run_parent(self, run_id: str) -> Any:
        """The run span as the parent of its nodes' spans (a context holding it)."""
        context = self._contexts.get(run_id)
        if context is None:
            stored = FlowRun.objects.filter(pk=run_id).values_list("trace_context", flat=True).first()
            context = stored or trace_context.root_context(trace_context.run_trace_id(run_id), int(TraceFlags.SAMPLED))
            with self._lock:
                self._contexts[run_id] = context
                while len(self._contexts) > CONTEXT_CACHE_SIZE:
                    self._contexts.popitem(last=False)
        span_context = SpanContext(trace_context.trace_id(context), trace_context.run_span_id(run_id), is_remote=True,
                                   trace_flags=TraceFlags(trace_context.flags(context)))
        return trace.set_span_in_context(NonRecordingSpan(span_context), otel_context.Context())

    def _start_node(self, details: dict[str, Any]) -> None:
        if self._open.span is not None:  # the last attempt on this thread never reached its end event
            self._end_node("interrupted", {})
        run_id = str(details["dispatcher_id"])
        attributes: dict[str, Any] = {
            FLOW: str(details.get("flow_name")), NODE: str(details.get("task_name")),
            NODE_ID: str(details.get("task_id")), RUN_ID: run_id,
        }
        attempt = observers.current()
        if attempt is not None and attempt.node_id == details.get("task_id"):
            attributes.update({REVISION: attempt.revision_id, ATTEMPT: attempt.number, WORKER: attempt.worker,
                               VIA: attempt.via})
            if attempt.queue:
                attributes[QUEUE] = attributes[MESSAGING_DESTINATION] = attempt.queue
        span = self.tracer().start_span(f"node {details.get('task_name')}", context=self._run_parent(run_id),
                                        attributes=attributes)
        self._open.span = span
        self._open.token = otel_context.attach(trace.set_span_in_context(span))

    def _end_node(self, status: str, details: dict[str, Any]) -> None:
        span, token = self._open.span, self._open.token
        if span is None:
            return
        self._open.span = self._open.token = None
        try:
            span.set_attribute(STATUS, status)
            if status in ("failed", "retried", "interrupted"):
                what = str(details.get("what") or status)
                kind, _, message = what.partition(": ")
                span.add_event("exception", {"exception.type": kind, "exception.message": message or what})
            if status in ("failed", "interrupted"):
                span.set_status(Status(StatusCode.ERROR, str(details.get("what") or status)))
            span.end()
        finally:
            if token is not None:
                otel_context.detach(token)

    # --- run spans (flow_finished) --------------------------------------------------------------

    def run_finished(self, sender: Any = None, run: FlowRun | None = None, status: str = "", **_: Any) -> None:
        if run is None:
            return
        run_id = str(run.pk)
        context = run.trace_context or trace_context.root_context(trace_context.run_trace_id(run_id),
                                                                  int(TraceFlags.SAMPLED))
        trace_id, parent = trace_context.trace_id(context), trace_context.parent_span_id(context)
        flags = TraceFlags(trace_context.flags(context))
        if parent:
            parent_span = NonRecordingSpan(SpanContext(trace_id, parent, is_remote=True, trace_flags=flags))
            start_context = trace.set_span_in_context(parent_span, otel_context.Context())
        else:
            start_context = otel_context.Context()  # a root: not the node span that may be current here
        attributes: dict[str, Any] = {FLOW: run.flow_name, RUN_ID: run_id, REVISION: run.revision_id,
                                      STATUS: str(status or run.status)}
        if run.parent_run_id:
            attributes[PARENT_RUN_ID] = str(run.parent_run_id)
        tracer = self.tracer()
        preset = self._ids.preset(trace_context.run_span_id(run_id), None if parent else trace_id) \
            if self._ids is not None else _nothing()
        with preset:
            span = tracer.start_span(f"flow {run.flow_name}", context=start_context, attributes=attributes,
                                     start_time=_nanoseconds(run.created_at))
        if str(status or run.status) == FlowRunStatus.FAILED:
            span.set_status(Status(StatusCode.ERROR, run.error or "flow failed"))
            span.set_attribute(ERROR, run.error or "")
        span.end(end_time=_nanoseconds(run.finished_at))


@contextmanager
def _nothing() -> Iterator[None]:
    yield


_installed: RunTracer | None = None


def install() -> RunTracer:
    """Trace runs and nodes in this process (idempotent)."""
    global _installed
    if _installed is None:
        _installed = RunTracer()
        add_process_backend(_installed)
        observers.install(_installed)
        flow_finished.connect(_installed.run_finished, weak=False, dispatch_uid=f"{__name__}.run_finished")
    return _installed


def uninstall() -> None:
    global _installed
    if _installed is not None:
        remove_process_backend(_installed)
        observers.uninstall(_installed)
        flow_finished.disconnect(dispatch_uid=f"{__name__}.run_finished")
        _installed = None
