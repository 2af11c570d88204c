"""The end of a flow run in Celery's result backend, so ``AsyncResult(run_id).get()`` works.

Selinon users wait for a flow with ``AsyncResult(dispatcher_id).get()``; the dispatcher writes
the outcome under the run id when the run ends. Nothing here is read by the runtime itself.
"""
from __future__ import annotations

import logging
from typing import Any

from selinon_django.errors import SelinonDjangoError
from selinon_django.runtime.celery_app import get_celery_app

logger = logging.getLogger(__name__)


class FlowFailedError(SelinonDjangoError):
    """Raised by ``AsyncResult(run_id).get()`` for a flow that failed."""


class FlowRevokedError(SelinonDjangoError):
    """Raised by ``AsyncResult(run_id).get()`` for a flow that was cancelled."""


def store_flow_outcome(run_id: str, status: str, result: Any, error: str) -> None:
    try:
        backend = get_celery_app().backend
        if status == "succeeded":
            backend.store_result(run_id, result, "SUCCESS")
        elif status == "revoked":
            backend.mark_as_revoked(run_id, reason="cancelled")
        else:
            backend.mark_as_failure(run_id, FlowFailedError(error or "flow failed"))
    except Exception:
        # The rows hold the truth; the result backend is a convenience for Selinon's API.
        logger.exception("could not store the outcome of flow run %s in the result backend", run_id)
