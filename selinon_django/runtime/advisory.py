"""PostgreSQL session advisory locks: the runtime's signs of life.

A session advisory lock lives exactly as long as the database session that took it: the server
drops it when the process holding the connection dies (its socket closes) - and also when the
connection is cut by the database side (a restart, ``pg_terminate_backend``). The runtime takes
two kinds:

- a *node lock* while an attempt runs (:func:`selinon_django.runtime.envelope.node_lock`, the
  claim statement), keyed by the node (or trigger instance) id;
- a *worker lock* held by each worker's main process for its whole life
  (:mod:`selinon_django.runtime.liveness`), keyed by the worker's hostname.

A free node lock alone does not mean the process died (the database may have cut every
connection); a free node lock *and* a worker lock that stayed free do.
"""
from __future__ import annotations

import hashlib
from typing import Any

#: every advisory lock of the current database that some session holds, as the bigint key it
#: was taken with (``pg_advisory_lock(bigint)`` stores it as two 32-bit halves)
_HELD_SQL = """
SELECT DISTINCT (classid::bigint << 32) | objid::bigint FROM pg_locks
WHERE locktype = 'advisory' AND objsubid = 1 AND granted
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def key(name: str) -> int:
    """The advisory-lock key of ``name`` (a node id, ``trigger:<id>``, ``worker:<hostname>``)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def worker_key(hostname: str) -> int:
    return key(f"worker:{hostname}")


def held_keys(connection: Any) -> set[int]:
    """The advisory-lock keys held right now by any session of this database (one query)."""
    with connection.cursor() as cursor:
        cursor.execute(_HELD_SQL)
        return {int(row[0]) for row in cursor.fetchall()}
