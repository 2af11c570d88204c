"""What a workload costs PostgreSQL: rows inserted, rows updated and WAL bytes.

Read from the server's own counters around the workload: ``pg_current_wal_insert_lsn()`` (WAL is
server-wide) and ``pg_stat_user_tables.n_tup_ins`` / ``n_tup_upd`` summed over a schema's tables.
A backend flushes its table counters to the statistics system at most once a second, and one that
goes idle less than a second after its last flush does so only ten seconds later
(``PGSTAT_IDLE_INTERVAL``), so a snapshot first waits :data:`SETTLE` seconds. Whatever else
writes meanwhile (the sweeper, worker heartbeats) is measured too: :func:`measure` also measures an
idle window as long as the workload and subtracts it. Where the WAL went is read from the WAL itself
(``pg_walinspect``, a contrib extension of PostgreSQL): bytes of the records that touch each table
or index during the workload, and the rest (commits, mostly).
"""
from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
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
    #: WAL bytes by table or index, during the workload (nothing subtracted)
    wal_by_relation: dict[str, int] = field(default_factory=dict)

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
    return Cost({r[0]: int(r[1]) for r in rows}, {r[0]: int(r[2]) for r in rows}, current_lsn(connection))


def current_lsn(connection: psycopg.Connection[Any]) -> int:
    """The server's WAL insert position in bytes (``pg_current_wal_lsn()`` is the position written,
    which trails it by up to ``wal_writer_delay`` when commits are asynchronous)."""
    lsn = connection.execute("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn").fetchone()
    assert lsn is not None
    return int(lsn[0])


def measure(connection: psycopg.Connection[Any], schemas: tuple[str, ...], workload: Callable[[], Any]) -> Cost:
    """The cost of ``workload`` on the tables of ``schemas``, less an idle window as long as it.

    The database is vacuumed first, so that autovacuum does not pick the window to clean up after
    the workloads measured before (its WAL would be counted as this one's).
    """
    connection.execute("VACUUM ANALYZE")
    before = snapshot(connection, schemas)
    start = time.monotonic()
    workload()
    took = time.monotonic() - start
    end = current_lsn(connection)
    after = snapshot(connection, schemas)
    time.sleep(took)
    idle = snapshot(connection, schemas) - after
    cost = after - before - idle
    return Cost(cost.inserts, cost.updates, cost.wal_bytes, wal_by_relation(connection, before.wal_bytes, end))


_BLOCK_REF = re.compile(r"rel \d+/\d+/(\d+)")


def wal_by_relation(connection: psycopg.Connection[Any], start: int, end: int) -> dict[str, int]:
    """WAL bytes between two positions by the table or index its records touch (a record touching
    several counts for the first); ``(no relation)`` for commits and the like."""
    connection.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
    # pg_walinspect reads flushed WAL only (the bench's server commits asynchronously)
    while _flushed(connection) < end:
        time.sleep(0.1)
    names = dict(connection.execute(
        "SELECT relfilenode::text, relname FROM pg_class WHERE relfilenode <> 0"
    ).fetchall())
    records = connection.execute(
        "SELECT record_length, block_ref FROM pg_get_wal_records_info(%s::pg_lsn, %s::pg_lsn)",
        (_lsn(start), _lsn(end)),
    ).fetchall()
    total: Counter[str] = Counter()
    for length, block_ref in records:
        match = _BLOCK_REF.search(block_ref or "")
        total[names.get(match.group(1), "(other)") if match else "(no relation)"] += int(length)
    return dict(total)


def _flushed(connection: psycopg.Connection[Any]) -> int:
    row = connection.execute("SELECT pg_current_wal_flush_lsn() - '0/0'::pg_lsn").fetchone()
    assert row is not None
    return int(row[0])


def _lsn(position: int) -> str:
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


def describe(name: str, cost: Cost, nodes: int) -> str:
    """One line per workload: per node, and the tables that took rows."""
    tables = ", ".join(
        f"{table.split('.', 1)[1]} +{cost.inserts[table]}/~{cost.updates[table]}"
        for table in sorted(cost.inserts)
        if cost.inserts[table] or cost.updates[table]
    )
    wal = ", ".join(
        f"{relation} {size / nodes / 1024:.2f}"
        for relation, size in sorted(cost.wal_by_relation.items(), key=lambda item: -item[1])
        if size / nodes >= 50
    )
    return (
        f"{name:<34} per node: {cost.rows / nodes:5.1f} rows, {cost.updated / nodes:5.1f} updates, "
        f"{cost.wal_bytes / nodes / 1024:5.1f} kB WAL  (rows +inserted/~updated: {tables})\n"
        f"{'':<34} WAL per node by relation, kB: {wal}"
    )
