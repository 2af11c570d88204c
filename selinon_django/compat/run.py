"""Selinon's ``run_flow`` and ``run_flow_selective`` as Selinon code imports them.

Selinon code imports them at the top of modules that run before Django is set up (a Celery app
module, a script's header), and in Selinon that costs nothing. The runtime behind them needs
Django's models, so these two functions import it when called, not when imported; they are the
runtime's functions otherwise (same arguments, same :class:`FlowHandle` result).
"""
from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selinon_django.runtime.flow_handle import FlowHandle

__all__ = ["run_flow", "run_flow_selective"]

_RUNTIME_API = "selinon_django.runtime.api"


def run_flow(flow_name: str, node_args: Any = None) -> FlowHandle:
    """Start ``flow_name``; returns the run id with ``.id`` and ``.get()`` (a ``FlowHandle``)."""
    handle: FlowHandle = importlib.import_module(_RUNTIME_API).run_flow(flow_name, node_args)
    return handle


def run_flow_selective(
    flow_name: str,
    task_names: Iterable[str],
    node_args: Any = None,
    follow_subflows: bool = False,
    run_subsequent: bool = False,
) -> FlowHandle:
    """Run only the part of ``flow_name`` leading to ``task_names``; returns a ``FlowHandle``."""
    handle: FlowHandle = importlib.import_module(_RUNTIME_API).run_flow_selective(
        flow_name, task_names, node_args, follow_subflows=follow_subflows, run_subsequent=run_subsequent
    )
    return handle
