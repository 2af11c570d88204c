"""Run actions taken by someone: the runtime call and its audit row, in one transaction.

The admin, the REST API and the management commands start, cancel and retry runs through these
functions, so each action leaves a :class:`~selinon_django.models.RunAction` saying who did it,
through which surface and when (the run page's history shows them). An action the runtime
refuses (cancelling a finished run, say) raises as before and leaves no row. Code that calls the
runtime API directly (``run_flow`` in a task, triggers) is not audited: the run's
``created_by``/``created_at`` still say who started it and when.
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from selinon_django.models import FlowRun, RunAction
from selinon_django.runtime import api as runtime_api


@dataclass(frozen=True)
class Actor:
    """Who acts and through which surface (``RunAction.Via``): a Django user, or a name."""

    via: str
    user: Any = None
    name: str = ""

    @classmethod
    def command(cls) -> Actor:
        """A management command: the operating-system user running it."""
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry in some containers
            name = ""
        return cls(via=RunAction.Via.COMMAND, name=name)

    @property
    def authenticated_user(self) -> Any:
        return self.user if self.user is not None and getattr(self.user, "is_authenticated", False) else None

    @property
    def username(self) -> str:
        user = self.authenticated_user
        return (user.get_username() if user is not None else self.name)[:150]


def record(run_id: str, action: str, actor: Actor, detail: str = "") -> RunAction:
    """The audit row of ``action`` on ``run_id``."""
    return RunAction.objects.create(
        run_id=run_id, action=action, via=actor.via, user=actor.authenticated_user, username=actor.username,
        detail=detail[:255],
    )


def start(
    actor: Actor,
    flow_name: str,
    node_args: Any,
    task_names: Sequence[str] = (),
    *,
    follow_subflows: bool = False,
    run_subsequent: bool = False,
    detail: str = "",
) -> str:
    """A plain or (with ``task_names``) selective run on the current revision; returns its id."""
    user = actor.authenticated_user
    with transaction.atomic():
        if task_names:
            run_id = str(runtime_api.run_flow_selective(
                flow_name, list(task_names), node_args, follow_subflows, run_subsequent, created_by=user))
        else:
            run_id = str(runtime_api.run_flow(flow_name, node_args, created_by=user))
        record(run_id, RunAction.Kind.START, actor, detail)
    return run_id


def run_again(actor: Actor, run: FlowRun) -> str:
    """A new run of ``run``'s flow with its node_args and selection; both runs record it."""
    selective = run.selective or {}
    with transaction.atomic():
        new_id = start(
            actor, run.flow_name, run.node_args, list(selective.get("task_names") or []),
            follow_subflows=bool(selective.get("follow_subflows")),
            run_subsequent=bool(selective.get("run_subsequent")),
            detail=f"again of run {run.pk}",
        )
        record(run.pk, RunAction.Kind.RERUN, actor, f"new run {new_id}")
    return new_id


def cancel(actor: Actor, run_id: str) -> int:
    """Cancel ``run_id`` (see ``cancel_flow``); returns how many node runs were revoked."""
    with transaction.atomic():
        revoked = runtime_api.cancel_flow(run_id)
        record(run_id, RunAction.Kind.CANCEL, actor, f"{revoked} node run(s) revoked")
    return revoked


def retry(actor: Actor, run_id: str) -> str:
    """Retry the failed run ``run_id`` from its failed nodes (see ``retry_flow``)."""
    with transaction.atomic():
        runtime_api.retry_flow(run_id)
        record(run_id, RunAction.Kind.RETRY, actor, "from the failed nodes")
    return run_id
