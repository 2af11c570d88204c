"""Task logs in the database: the sink of :mod:`~selinon_django.runtime.log_capture`, and reading them back.

The sink keeps a node's lines only when its node-run row exists (the in-process executor of
``selinon_execute`` runs nodes that have none). Its first query per attempt (which attempt, how
many bytes the node kept already) is paid only by a task that logs. Reading is by cursor: the
id of the last batch a page or client has seen, so a poll returns only what is new.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from celery.signals import worker_init
from django.db import connection
from django.db.models import QuerySet, Sum

from selinon_django.conf import selinon_settings
from selinon_django.models import LogLine, NodeRun, NodeRunLog
from selinon_django.runtime import log_capture
from selinon_django.runtime.log_capture import CaptureSettings, Line, Target

logger = logging.getLogger(__name__)


class DatabaseSink:
    """Batches of lines as :class:`~selinon_django.models.NodeRunLog` rows."""

    def settings(self) -> CaptureSettings | None:
        conf = selinon_settings()
        if not conf.TASK_LOGS:
            return None
        level = logging.getLevelName(str(conf.TASK_LOG_LEVEL).upper())
        return CaptureSettings(
            level=level if isinstance(level, int) else logging.INFO,
            max_bytes=conf.TASK_LOG_MAX_BYTES,
            flush_seconds=conf.TASK_LOG_FLUSH_SECONDS,
        )

    def open(self, node_id: str, run_id: str) -> Target | None:
        attempts = NodeRun.objects.filter(pk=node_id).values_list("attempts", flat=True).first()
        if attempts is None:
            return None
        kept = NodeRunLog.objects.filter(node_run_id=node_id).aggregate(total=Sum("size"))["total"] or 0
        return Target(attempt=max(int(attempts), 1), kept_bytes=int(kept))

    def write(self, node_id: str, run_id: str, attempt: int, lines: list[Line], size: int) -> None:
        created = datetime.fromtimestamp(lines[0][0], tz=UTC)
        NodeRunLog.objects.create(
            flow_run_id=run_id, node_run_id=node_id, attempt=attempt, created_at=created,
            lines=[list(line) for line in lines], size=size,
        )

    def release(self, in_flusher: bool) -> None:
        if in_flusher:  # the flusher's own connection: the next batch opens a new one
            try:
                connection.close()
            except Exception:
                logger.debug("closing the flusher's connection failed", exc_info=True)


_installed = False


def install() -> None:
    """Keep task logs in the database (once per process; the runtime's Celery tasks module calls it)."""
    global _installed
    if _installed:
        return
    _installed = True
    log_capture.install(DatabaseSink())
    worker_init.connect(_allow_flusher, weak=False, dispatch_uid=f"{__name__}.flusher")


def _allow_flusher(**_: Any) -> None:
    log_capture.allow_flusher()


# --- reading -------------------------------------------------------------------------------


@dataclass
class LogPage:
    """Lines of one or more node runs after a cursor, and the cursor to ask from next."""

    lines: list[tuple[NodeRunLog, LogLine]]
    cursor: int
    #: more batches are stored after these (the reader asks again at once)
    more: bool


def batches_of_node(node_id: str) -> QuerySet[NodeRunLog]:
    return NodeRunLog.objects.filter(node_run_id=node_id).order_by("id")


def batches_of_run(run_id: str) -> QuerySet[NodeRunLog]:
    return NodeRunLog.objects.filter(flow_run_id=run_id).order_by("id")


def read_after(batches: QuerySet[NodeRunLog], cursor: int, limit: int) -> LogPage:
    """At most ``limit`` batches after batch id ``cursor``, oldest first."""
    rows = list(batches.filter(id__gt=cursor)[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return LogPage(lines=_lines(rows), cursor=rows[-1].pk if rows else cursor, more=more)


def read_tail(batches: QuerySet[NodeRunLog], limit: int) -> tuple[LogPage, int]:
    """The newest ``limit`` batches, oldest first, and how many older batches were left out."""
    rows = list(batches.order_by("-id")[:limit])
    rows.reverse()
    hidden = batches.filter(id__lt=rows[0].pk).count() if len(rows) == limit else 0
    cursor = rows[-1].pk if rows else 0
    return LogPage(lines=_lines(rows), cursor=cursor, more=False), hidden


def _lines(rows: Iterable[NodeRunLog]) -> list[tuple[NodeRunLog, LogLine]]:
    return [(row, line) for row in rows for line in row.entries()]
