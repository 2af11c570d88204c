"""A worker's last heartbeat, answered through Celery's remote control (``selinon_heartbeat``).

Celery sends a ``worker-heartbeat`` event every two seconds, but events reach only listeners that
were subscribed when it was sent: a page would have to listen for two seconds to hear one. The
worker itself knows when it sent its last one, so this module remembers it (Celery's
``heartbeat_sent`` signal, in the worker's main process, where remote control commands run too)
and answers an inspect command with it - one broadcast, answered at once, for every worker.

Imported by the app's ``ready()`` in every process: the receiver must be connected before a
worker builds its heart (which checks for receivers once), and the command registered before
the worker starts consuming control messages. In other processes both are inert.
"""
from __future__ import annotations

import time
from typing import Any

from celery.signals import heartbeat_sent
from celery.worker.control import inspect_command

#: the remote control command (``app.control.broadcast(COMMAND, reply=True)``)
COMMAND = "selinon_heartbeat"

_last: dict[str, float | None] = {"sent": None}


def _remember(sender: Any = None, **_: Any) -> None:
    _last["sent"] = time.time()


heartbeat_sent.connect(_remember, weak=False, dispatch_uid=f"{__name__}.remember")


@inspect_command(name=COMMAND)
def selinon_heartbeat(state: Any) -> dict[str, Any]:
    """``{"last_heartbeat": unix time or None, "heartbeats": whether the worker sends them}``."""
    consumer = getattr(state, "consumer", None)
    heart = getattr(consumer, "heart", None)
    return {"last_heartbeat": _last["sent"], "heartbeats": heart is not None,
            "interval": getattr(heart, "interval", None)}
