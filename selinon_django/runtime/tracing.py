"""Trace events as rows, written in the same transaction as the state change they describe.

A process-wide tracer backend (:func:`install`) appends every event traced while a unit of work
is :func:`collecting` on this thread to that unit's trace rows, which its commit writes with its
other writes (:class:`~selinon_django.runtime.unit_of_work.UnitOfWork`). The tracer is called from
anywhere (the engine, storages, user code) and knows no unit: this is the one place that holds the
thread's collecting unit, set and reset by the context manager. Events traced while no unit
collects (a storage connecting at import time, say) are not written: rows always belong to a run.
Bulky details (the whole dispatcher state, which the flow-run row already holds) are left out of
the rows, and secrets are masked before a row is written
(:func:`~selinon_django.config.secrets.mask_secrets`: URL passwords in any text, such as a
storage's connection error, and secret-named keys), since users who may view runs read them.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.utils import timezone

from selinon_django.config.secrets import mask_secrets
from selinon_django.runtime.unit_of_work import UnitOfWork
from selinon_django.trace.events import Trace
from selinon_django.trace.tracer import add_process_backend

#: details that repeat what the flow-run row holds (and can be megabytes for a big foreach)
_BULKY = ("state", "state_dict")


class _Local(threading.local):
    def __init__(self) -> None:
        self.unit: UnitOfWork | None = None


_local = _Local()
_installed = False
_install_lock = threading.Lock()


def database_backend(event: int, details: dict[str, Any]) -> None:
    """Collect one event as a plain row (a model instance per event cost more than its insert)."""
    unit = _local.unit
    if unit is None or unit.traces is None:
        return
    run_id = details.get("dispatcher_id") or unit.run_id
    node_id = details.get("task_id") or details.get("node_id") or details.get("child_dispatcher_id")
    unit.traces.append((
        run_id,
        str(node_id) if node_id is not None else None,
        Trace.event2str(event),
        # JSON-ready (anything else as its repr) and masked in one walk
        mask_secrets({k: v for k, v in details.items() if k not in _BULKY}, default=repr),
        timezone.now(),
    ))


def install() -> None:
    """Register the database backend once per process (called when the runtime tasks load)."""
    global _installed
    with _install_lock:
        if not _installed:
            add_process_backend(database_backend)
            _installed = True


@contextmanager
def collecting(unit: UnitOfWork) -> Iterator[None]:
    """Events traced on this thread go to ``unit`` while the block runs (then to whichever unit
    collected before)."""
    previous, _local.unit = _local.unit, unit
    try:
        yield
    finally:
        _local.unit = previous
