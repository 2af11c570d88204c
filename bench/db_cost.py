"""What a workload costs PostgreSQL: rows inserted, rows updated and WAL bytes.

Read from the server's own counters around the workload: ``pg_current_wal_lsn()`` (WAL is
server-wide) and ``pg_stat_user_tables.n_tup_ins`` / ``n_tup_upd`` summed over a schema's tables.
A backend flushes its table counters to the statistics system at most once a second, and one that
goes idle less than a second after its last flush does so only ten seconds later
(``PGSTAT_IDLE_INTERVAL``), so a snapshot first waits :data:`SETTLE` seconds. Whatever else
writes meanwhile (the sweeper, worker heartbeats) is measured too: :func:`measure` also measures an
idle window as long as the workload and subtracts it.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

#: seconds for every backend to have flushed its table counters (PGSTAT_IDLE_INTERVAL is 10 s)
SETTLE = 11.0


@dataclass(frozen=True)
class Cost:
    """Rows inserted, rows updated and WAL bytes written, by table for the rows."""

    inserts: dict[str, int]
    updates: dict[str, int]
    wal_bytes: int

    def __sub__(self, other: Cost) -> Cost:
        tables = self.inserts.keys() | other.inserts.keys()
        return Cost(
            {t: self.inserts.get(t, 0) - other.inserts.get(t, 0) for t in tables},
            {t: self.updates.get(t, 0) - other.updates.get(t, 0) for t in tables},
            self.wal_bytes - other.wal_bytes,
        )

    @property
    def rows(self) -> int:
        return sum(self.inserts.values())

    @property
    def updated(self) -> int:
        return sum(self.updates.values())


def snapshot(connection: psycopg.Connection[Any], schemas: tuple[str, ...]) -> Cost:
    """The counters once every backend has flushed its own."""
    time.sleep(SETTLE)
    connection.execute("SELECT pg_stat_clear_snapshot()")
    rows = connection.execute(
        "SELECT schemaname || '.' || relname, n_tup_ins, n_tup_upd FROM pg_stat_user_tables"
        " WHERE schemaname = ANY(%s)",
        (list(schemas),),
    ).fetchall()
    lsn = connection.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
    assert lsn is not None
    return Cost({r[0]: int(r[1]) for r in rows}, {r[0]: int(r[2]) for r in rows}, int(lsn[0]))


def measure(connection: psycopg.Connection[Any], schemas: tuple[str, ...], workload: Callable[[], Any]) -> Cost:
    """The cost of ``workload`` on the tables of ``schemas``, less an idle window as long as it."""
    before = snapshot(connection, schemas)
    start = time.monotonic()
    workload()
    took = time.monotonic() - start
    after = snapshot(connection, schemas)
    time.sleep(took)
    idle = snapshot(connection, schemas) - after
    return after - before - idle


def describe(name: str, cost: Cost, nodes: int) -> str:
    """One line per workload: per node, and the tables that took rows."""
    tables = ", ".join(
        f"{table.split('.', 1)[1]} +{cost.inserts[table]}/~{cost.updates[table]}"
        for table in sorted(cost.inserts)
        if cost.inserts[table] or cost.updates[table]
    )
    return (
        f"{name:<34} per node: {cost.rows / nodes:5.1f} rows, {cost.updated / nodes:5.1f} updates, "
        f"{cost.wal_bytes / nodes / 1024:5.1f} kB WAL  ({tables})"
    )
