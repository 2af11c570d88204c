"""Tracing of flow actions: Selinon's event numbers and the backends that record them."""
from selinon_django.trace.events import EVENT_DETAILS, Trace
from selinon_django.trace.tracer import TraceBackend, Tracer, add_process_backend, remove_process_backend

__all__ = ["EVENT_DETAILS", "Trace", "TraceBackend", "Tracer", "add_process_backend", "remove_process_backend"]
