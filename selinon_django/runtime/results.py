"""The end of a flow run told to the outside: Celery's result backend, so
``AsyncResult(run_id).get()`` works, and the ``flow_finished`` signal.

Selinon users wait for a flow with ``AsyncResult(dispatcher_id).get()``; the dispatcher (or
``cancel_flow``) writes the outcome under the run id when the run ends. Nothing here is read by
the runtime itself.
"""
from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from selinon_django.errors import SelinonDjangoError
from selinon_django.models.runs import FlowRun
from selinon_django.runtime.celery_app import get_celery_app
from selinon_django.runtime.store import run_store
from selinon_django.signals import flow_finished

logger = logging.getLogger(__name__)


class FlowFailedError(SelinonDjangoError):
    """Raised by ``AsyncResult(run_id).get()`` for a flow that failed."""


class FlowRevokedError(SelinonDjangoError):
    """Raised by ``AsyncResult(run_id).get()`` for a flow that was cancelled."""


def store_flow_outcome(run_id: str, status: str, result: Any, error: str) -> None:
    try:
        backend = get_celery_app().backend
        model = _result_model(backend)
        if status == "succeeded" and model is not None:
            _store_success(backend, model, run_id, result)
        elif status == "succeeded":
            backend.store_result(run_id, result, "SUCCESS")
        elif status == "revoked":
            backend.mark_as_revoked(run_id, reason="cancelled")
        else:
            backend.mark_as_failure(run_id, FlowFailedError(error or "flow failed"))
    except Exception:
        # The rows hold the truth; the result backend is a convenience for Selinon's API.
        logger.exception("could not store the outcome of flow run %s in the result backend", run_id)


def _store_success(backend: Any, model: Any, run_id: str, result: Any) -> None:
    """What django-celery-results' ``store_result(run_id, result, "SUCCESS")`` stores, in one
    statement (an insert that updates the row if the id has one) instead of its four (a
    get_or_create in a savepoint, then a save): a root run's end cost as much as a hop."""
    content_type, content_encoding, data = backend.encode_content(result)
    _, _, meta = backend.encode_content({"children": None})  # (a flow outcome has no Celery children)
    row = model(task_id=run_id, status="SUCCESS", result=data, content_type=content_type,
                content_encoding=content_encoding, meta=meta, traceback=None)
    updated = ["status", "result", "content_type", "content_encoding", "meta", "traceback", "date_done"]
    run_store().upsert(model, row, unique_field="task_id", update_fields=updated)


def forget_outcomes(run_ids: list[str]) -> int:
    """Remove the outcomes of deleted runs from the result backend (``selinon_prune``); returns
    how many ids were forgotten. django-celery-results' rows go in one statement per call (its
    ``forget`` is a query per id); other backends forget id by id; a backend that cannot forget
    (none configured, or it does not implement it) is left alone."""
    if not run_ids:
        return 0
    backend = get_celery_app().backend
    model = _result_model(backend)
    if model is not None:
        model._default_manager.filter(task_id__in=run_ids).delete()
        return len(run_ids)
    try:
        for run_id in run_ids:
            backend.forget(run_id)
    except NotImplementedError:
        logger.info("the result backend %s cannot forget results: pruned runs' outcomes stay there",
                    type(backend).__name__)
        return 0
    return len(run_ids)


def _result_model(backend: Any) -> Any:
    """django-celery-results' result model when ``backend`` is its database backend, else None."""
    try:
        from django_celery_results.backends.database import DatabaseBackend
    except ImportError:  # the app is optional
        return None
    return backend.TaskModel if isinstance(backend, DatabaseBackend) else None


def announce_outcome(run: FlowRun) -> None:
    """Once the transaction recording ``run``'s final status commits: its outcome in the result
    backend, then ``flow_finished`` (receivers such as trigger cascades see the committed rows; a
    failing receiver is logged, never raised into the dispatcher or ``cancel_flow``)."""
    run_id, status, result, error = run.pk, run.status, run.result, run.error
    transaction.on_commit(lambda: store_flow_outcome(run_id, status, result, error))
    transaction.on_commit(lambda: _log_receiver_errors(
        flow_finished.send_robust(sender=FlowRun, run=run, status=status, result=result)))


def _log_receiver_errors(responses: list[tuple[Any, Any]]) -> None:
    for receiver, response in responses:
        if isinstance(response, Exception):
            logger.error("flow_finished receiver %r raised %r", receiver, response)
