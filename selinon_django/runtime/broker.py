"""What the broker holds, as the sweeper asks it: queue lengths, and whether it lost its data.

The sweeper must tell a message that waits in a queue from one the broker no longer has, and it
cannot see messages one by one. Two questions answer enough, once per sweep and off the hot path:

- **How many messages wait in a queue?** (:meth:`BrokerProbe.queue_size`, a passive
  ``queue_declare`` through kombu: Redis ``LLEN`` over the priority lists, a directory listing on
  the filesystem transport, RabbitMQ's message count.) A message older than the sweep's grace
  whose queue is *empty* is not waiting there: it is lost (or held by a worker that died, or
  reserved by a worker prefetching more than it runs - resending it then costs a duplicate
  that the envelope drops). A message whose queue is *not* empty may be waiting behind the
  backlog: it is left alone, so a backlog is never amplified by resends of what is queued.
- **Did the broker lose everything?** A *marker*: one message the sweeper keeps in a queue of
  its own (:data:`MARKER_QUEUE`, durable, never consumed). When it is gone the broker restarted
  without its data (or was emptied), every message published before is gone too, and the sweeper
  resends everything in flight at once instead of waiting ``LOST_TASK_AFTER``; then it plants the
  marker again. The first sweep against a new broker finds no marker either, which resends what
  is in flight once (duplicates are harmless).

A broker that cannot answer (down, or a transport without message counts) answers None: the
sweeper then falls back to its time-based rules.
"""
from __future__ import annotations

import logging
from typing import Any

from kombu import Exchange, Queue

from selinon_django.runtime.celery_app import get_celery_app

logger = logging.getLogger(__name__)

#: the queue of the sweeper's marker message (no worker consumes it)
MARKER_QUEUE = "selinon_django.broker_marker"


def _marker_queue() -> Queue:
    return Queue(MARKER_QUEUE, Exchange(MARKER_QUEUE, type="direct", durable=True), routing_key=MARKER_QUEUE,
                 durable=True)


class BrokerProbe:
    """One sweep's questions to the broker, on one connection (sizes asked once per queue)."""

    def __init__(self, app: Any = None) -> None:
        self.app = app or get_celery_app()
        self._connection: Any = None
        self._sizes: dict[str, int | None] = {}

    def _conn(self) -> Any:
        if self._connection is None:
            self._connection = self.app.connection_for_write()
            self._connection.ensure_connection(max_retries=1)
        return self._connection

    def queue_size(self, queue: str | None) -> int | None:
        """Messages waiting in ``queue`` (None: the broker did not say)."""
        name = queue or self.app.conf.task_default_queue
        if name not in self._sizes:
            self._sizes[name] = self._ask_size(name)
        return self._sizes[name]

    def _ask_size(self, name: str) -> int | None:
        try:
            conn = self._conn()
            channel = conn.channel()
            try:
                _, count, _ = channel.queue_declare(queue=name, passive=True)
                return int(count)
            except conn.channel_errors:
                return 0  # no such queue: nothing waits in it (Redis drops an empty list)
            finally:
                _close(channel)
        except Exception:
            logger.debug("the broker did not say how many messages wait in %s", name, exc_info=True)
            return None

    def lost_its_data(self) -> bool | None:
        """Whether the marker is gone (None: the broker did not answer)."""
        size = self._ask_size(MARKER_QUEUE)
        return None if size is None else size == 0

    def plant_marker(self) -> None:
        """Put the marker message in its queue (after the resends a loss caused)."""
        try:
            conn = self._conn()
            with conn.Producer() as producer:
                queue = _marker_queue()
                producer.publish({"marker": True}, exchange=queue.exchange, routing_key=MARKER_QUEUE,
                                 declare=[queue], delivery_mode=2, serializer="json")
        except Exception:
            logger.warning("could not plant the broker marker", exc_info=True)

    def close(self) -> None:
        if self._connection is not None:
            _close(self._connection)
            self._connection = None


def _close(resource: Any) -> None:
    try:
        resource.close()
    except Exception:
        logger.debug("closing %r failed", resource, exc_info=True)
