"""Is a worker alive? Its main process says so by holding a lock; the sweeper reads the locks.

Each worker's main process holds a session advisory lock keyed by its hostname
(:func:`~selinon_django.runtime.advisory.worker_key`) on a database connection of its own, for
its whole life (:class:`WorkerLock`, kept by a thread started on ``worker_ready``). The lock
goes when the process dies - a SIGKILL of the whole worker included, where no Celery code runs
and the broker keeps the messages it had handed out until its visibility timeout. It also goes
when the database cuts every connection (a restart, an outage): then the worker takes it again
within :data:`KEEP_INTERVAL` seconds of the database coming back. So "this worker is gone" is a
lock seen free across a whole grace period (:class:`Silence`), not a lock seen free once.

Stores with session locks only (PostgreSQL): other databases have none (the embedded SQLite demo runs one
worker, whose death stops everything anyway), and there the sweeper leaves started nodes to the
broker's redelivery.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from selinon_django.runtime import advisory
from selinon_django.runtime.store import run_store

logger = logging.getLogger(__name__)

#: seconds between two checks that the worker lock is still held (re-taken after an outage)
KEEP_INTERVAL = 1.0


class WorkerLock:
    """The worker lock of ``hostname``, on a connection of its own (Django's per-thread
    connection may be closed between two uses by ``close_old_connections``; this one is not)."""

    def __init__(self, hostname: str) -> None:
        self.hostname = hostname
        self.key = advisory.worker_key(hostname)
        self._db: Any = None
        self.held = False
        self._warned = False

    def keep(self) -> bool:
        """Make sure the lock is held, reconnecting when the database dropped the session;
        returns whether it is held (False on other databases and while the database is away)."""
        try:
            if self._db is None:
                self._db = connections.create_connection(DEFAULT_DB_ALIAS)
            elif self.held and self._db.is_usable():
                return True
            store = run_store(self._db)
            if not store.session_locks:
                return False
            self._db.close()  # a session the server dropped, or none yet
            self.held = store.try_lock(self.key, self._db)
            if not self.held and not self._warned:
                self._warned = True
                logger.warning("another live process holds the worker lock of %s: two workers share a hostname",
                               self.hostname)
            return self.held
        except DatabaseError:
            logger.debug("worker lock of %s: database unreachable", self.hostname, exc_info=True)
            self.release()
            return False

    def release(self) -> None:
        """Close the connection (the server releases the lock with it)."""
        self.held = False
        db, self._db = self._db, None
        if db is not None:
            try:
                db.close()
            except DatabaseError:
                logger.debug("closing the worker-lock connection failed", exc_info=True)


class Silence:
    """What this process saw of other workers' locks: since when each one has been free.

    A worker is *gone* once its lock was seen free at least ``grace`` seconds apart with no
    sighting of it held in between. A sighting older than ``3 * grace`` says nothing about the
    present (its worker may have come back and gone again since): it starts the count again.
    """

    def __init__(self) -> None:
        self._free: dict[str, tuple[datetime, datetime]] = {}

    def gone(self, hostnames: Iterable[str], held: set[int], now: datetime, grace: timedelta) -> set[str]:
        found = set()
        for hostname in hostnames:
            if advisory.worker_key(hostname) in held:
                self._free.pop(hostname, None)
                continue
            first, last = self._free.get(hostname, (now, now))
            if now - last > 3 * grace:
                first = now
            self._free[hostname] = (first, now)
            if now - first >= grace:
                found.add(hostname)
        return found


_holder: WorkerLock | None = None
_holder_thread: threading.Thread | None = None
_stop = threading.Event()


def _keep_loop(lock: WorkerLock) -> None:
    while True:
        lock.keep()
        if _stop.wait(KEEP_INTERVAL):
            break
    lock.release()


def hold(hostname: str) -> None:
    """Hold ``hostname``'s worker lock in a daemon thread of this process until :func:`let_go`."""
    global _holder, _holder_thread
    if _holder_thread is not None and _holder_thread.is_alive():
        return
    _stop.clear()
    _holder = WorkerLock(hostname)
    _holder_thread = threading.Thread(target=_keep_loop, args=(_holder,), name="selinon-worker-lock", daemon=True)
    _holder_thread.start()


def let_go() -> None:
    """Stop holding the lock (warm shutdown): the worker is then seen gone once it stopped."""
    _stop.set()
