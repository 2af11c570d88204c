"""A Django process on the embedded default (SQLite file, kombu's filesystem broker) driven over
its stdin and stdout, one JSON request and one JSON reply per line.

Why a separate process: the pytest process is configured for the PostgreSQL test database and
Redis, and Django cannot be set up twice in one process. The embedded test starts this driver with
the demo's environment (``DATABASE_URL=sqlite:///...``, no ``CELERY_BROKER_URL``) and asks it to
run the library's API (``run_flow``, ``cancel_flow``, ``AsyncResult``) and to read rows, so the
test keeps its logic and its waits while every call goes through the same stack a user of the
embedded default has.

Request: ``{"op": NAME, "args": {...}}``; reply: ``{"ok": VALUE}`` or ``{"error": TEXT}``.
Anything else a call prints goes to stderr, so stdout carries replies only.
"""
from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


def setup(nodes: str, flows: list[str]) -> int:
    """Migrate the SQLite database and load a configuration revision; returns its number."""
    from django.core.management import call_command

    from selinon_django.config import load_config
    from selinon_django.revisions import load_revision

    call_command("migrate", verbosity=0)
    revision, _ = load_revision(load_config([Path(nodes)], [Path(p) for p in flows]))
    return int(revision.number)


def run_flow(flow: str, node_args: Any = None) -> str:
    from selinon_django.runtime.api import run_flow as start

    return start(flow, node_args)


def cancel_flow(run_id: str) -> int:
    from selinon_django.runtime.api import cancel_flow as cancel

    return cancel(run_id)


def run(run_id: str) -> dict[str, Any]:
    """The run's status and its node runs (name, status, times), as the rows say now."""
    from selinon_django.models import FlowRun, NodeRun

    flow_run = FlowRun.objects.get(pk=run_id)
    nodes = NodeRun.objects.filter(flow_run_id=run_id).order_by("created_at")
    return {
        "status": flow_run.status,
        "finished": flow_run.is_finished,
        "error": flow_run.error,
        "nodes": [
            {"name": n.name, "status": n.status, "started_at": n.started_at, "finished_at": n.finished_at}
            for n in nodes
        ],
    }


def result_state(run_id: str) -> str:
    """The run's state in Celery's result backend (django-db, in the SQLite file)."""
    from celery.result import AsyncResult

    return str(AsyncResult(run_id).state)


def ping(destination: list[str], timeout: float) -> list[dict[str, Any]]:
    """A control ``ping`` over the filesystem broker (the channel ``revoke`` also takes)."""
    from demo_project.celery import app

    return app.control.ping(destination=destination, timeout=timeout) or []


OPS: dict[str, Callable[..., Any]] = {
    "setup": setup, "run_flow": run_flow, "cancel_flow": cancel_flow, "run": run,
    "result_state": result_state, "ping": ping,
}


def main() -> None:
    import django

    replies = sys.stdout
    sys.stdout = sys.stderr  # whatever Django, Celery or a call prints stays off the reply channel
    django.setup()
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            reply: dict[str, Any] = {"ok": OPS[request["op"]](**request.get("args", {}))}
        except Exception:
            reply = {"error": traceback.format_exc()}
        replies.write(json.dumps(reply, default=str) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()
