"""Trace events as rows, written in the same transaction as the state change they describe.

A process-wide tracer backend (:func:`install`) appends every event traced while a
:func:`collecting` block is open on this thread; :func:`flush` writes them with one
``INSERT`` (in the caller's batch). Events traced outside such a block (a storage connecting at import time, say)
are not written: rows always belong to a run. Bulky details (the whole dispatcher state, which
the flow-run row already holds) are left out of the rows, and secrets are masked before a row is
written (:func:`~selinon_django.config.secrets.mask_secrets`: URL passwords in any text, such as a
storage's connection error, and secret-named keys), since users who may view runs read them.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.utils import timezone

from selinon_django.config.secrets import mask_secrets
from selinon_django.models.tracing import TraceEventRecord
from selinon_django.runtime.writes import Batch
from selinon_django.trace.events import Trace
from selinon_django.trace.tracer import add_process_backend

#: details that repeat what the flow-run row holds (and can be megabytes for a big foreach)
_BULKY = ("state", "state_dict")


#: the columns of a collected event, in this order
COLUMNS = ("flow_run_id", "node_run_id", "event", "details", "created_at")
Row = tuple[Any, ...]


class _Local(threading.local):
    def __init__(self) -> None:
        self.records: list[Row] | None = None
        self.run_id: str | None = None


_local = _Local()
_installed = False
_install_lock = threading.Lock()


def database_backend(event: int, details: dict[str, Any]) -> None:
    """Collect one event as a plain row (a model instance per event cost more than its insert)."""
    records = _local.records
    if records is None:
        return
    run_id = details.get("dispatcher_id") or _local.run_id
    node_id = details.get("task_id") or details.get("node_id") or details.get("child_dispatcher_id")
    records.append((
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
def collecting(run_id: str | None, enabled: bool = True) -> Iterator[bool]:
    """Collect events traced on this thread; yields whether this block owns the collection
    (a nested block shares the outer one, and only the owner may :func:`flush`)."""
    if not enabled or _local.records is not None:
        yield False
        return
    _local.records = []
    _local.run_id = run_id
    yield True


def flush(batch: Batch | None = None) -> None:
    """Write the collected events (inside the caller's transaction, or with ``batch``, whose
    owner sends them) and stop collecting."""
    records, _local.records = _local.records, None
    _local.run_id = None
    if not records:
        return
    if batch is not None:
        batch.insert_rows(TraceEventRecord, COLUMNS, records)
        return
    TraceEventRecord.objects.bulk_create([TraceEventRecord(**dict(zip(COLUMNS, row, strict=True))) for row in records])


def is_collecting() -> bool:
    return _local.records is not None


def discard() -> None:
    _local.records = None
    _local.run_id = None


def snapshot() -> list[Row] | None:
    """The events collected so far (to :func:`restore` when a write that took them failed)."""
    return None if _local.records is None else list(_local.records)


def restore(records: list[Row] | None) -> None:
    """Collect ``records`` again, as they were at :func:`snapshot` (no-op when not collecting)."""
    if records is not None:
        _local.records = list(records)
