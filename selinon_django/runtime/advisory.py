"""The keys of session advisory locks (PostgreSQL): the runtime's signs of life.

A session advisory lock lives exactly as long as the database session that took it: the server
drops it when the process holding the connection dies (its socket closes) - and also when the
connection is cut by the database side (a restart, ``pg_terminate_backend``). The runtime takes
two kinds:

- a *node lock* while an attempt runs (:func:`selinon_django.runtime.envelope.node_lock`, the
  claim statement), keyed by the node (or trigger instance) id;
- a *worker lock* held by each worker's main process for its whole life
  (:mod:`selinon_django.runtime.liveness`), keyed by the worker's hostname.

A free node lock alone does not mean the process died (the database may have cut every
connection); a free node lock *and* a worker lock that stayed free do. The locks are taken,
released and listed by the run store (:class:`~selinon_django.runtime.store.postgresql.PostgresRunStore`).
"""
from __future__ import annotations

import hashlib


def key(name: str) -> int:
    """The advisory-lock key of ``name`` (a node id, ``trigger:<id>``, ``worker:<hostname>``)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def worker_key(hostname: str) -> int:
    return key(f"worker:{hostname}")

