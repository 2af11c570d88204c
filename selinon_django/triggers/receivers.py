"""The ``flow_finished`` receiver: a flow started by a trigger task cascades on its result.

Connected when the models load (every process that can finish a flow has it). It must not
break the dispatcher that sent the signal, so it logs its own failures. A cascade lost between
the flow's commit and this receiver (a process that died right then) is recovered by
:func:`selinon_django.triggers.flows.reconcile_flow_instances`, run after every sweeper pass.
"""
from __future__ import annotations

import logging
from typing import Any

from selinon_django.signals import flow_finished, swept
from selinon_django.triggers.flows import flow_run_finished, reconcile_flow_instances

logger = logging.getLogger(__name__)


def on_flow_finished(sender: Any, run: Any, status: str, result: Any = None, **kwargs: Any) -> None:
    if getattr(run, "parent_run_id", None) is not None:
        return  # a sub-flow: only the runs a trigger task started are ever linked
    try:
        flow_run_finished(run.pk)
    except Exception:
        logger.exception("trigger cascade of flow run %s failed", getattr(run, "pk", run))


flow_finished.connect(on_flow_finished, dispatch_uid="selinon_django.triggers.on_flow_finished", weak=False)


def on_swept(sender: Any, **kwargs: Any) -> None:
    recovered = reconcile_flow_instances()
    if recovered:
        logger.warning("recovered %d trigger cascade(s) of finished flows", recovered)


swept.connect(on_swept, dispatch_uid="selinon_django.triggers.on_swept", weak=False)
