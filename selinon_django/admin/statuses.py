"""One status for the instances of a node name: the colour a group has on the run page's graph
and in a flow's grid (so both pages mean the same by a colour)."""

from __future__ import annotations

#: while a node name has unfinished instances its colour is the first of these it has
ACTIVE_ORDER = ("started", "retried", "received", "sent", "pending")
#: once all are finished: failed wins over revoked over succeeded
FINISHED_ORDER = ("failed", "revoked", "succeeded")
#: an instance in one of these has left the queue: its group has begun
_BEGUN = frozenset(("started", "retried", *FINISHED_ORDER))


def combined_status(statuses: list[str]) -> str:
    """The status of a group of node runs with these statuses (the most "alive" one while
    anything runs, else the worst outcome).

    A group of several instances that has begun (one of them started or already finished) and
    still has unfinished ones is ``started`` until the last one finishes: picking the most
    "alive" instance status instead made a foreach that works through its instances a few at a
    time flicker between polls (started while one runs, sent in the gap before the next starts,
    retried while one waits for its retry). tests/unit/admin/test_foreach_colour.py
    """
    unfinished = [status for status in statuses if status not in FINISHED_ORDER]
    if len(statuses) > 1 and unfinished and any(status in _BEGUN for status in statuses):
        return "started"
    for status in (*ACTIVE_ORDER, *FINISHED_ORDER):
        if status in statuses:
            return status
    return statuses[0] if statuses else "pending"
