"""A run's outcome in Celery's result backend: ``AsyncResult(run_id).get()`` as with Selinon.

With django-celery-results the success is one upsert statement of ours; it must be the row the
backend itself would have written."""
from __future__ import annotations

from typing import Any

import pytest
from celery.result import AsyncResult
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_celery_results.models import TaskResult

from selinon_django.runtime.celery_app import get_celery_app
from selinon_django.runtime.results import FlowFailedError, store_flow_outcome

pytestmark = pytest.mark.django_db(transaction=True)

RESULT: dict[str, Any] = {"finished_nodes": {"A": ["a1"]}, "text": "ünïcode ✓", "n": [1, 2.5, None, True]}


def _row(task_id: str) -> dict[str, Any]:
    return TaskResult.objects.filter(task_id=task_id).values(
        "status", "result", "content_type", "content_encoding", "meta", "traceback").get()


def test_a_success_is_one_statement_and_the_row_the_backend_writes() -> None:
    with CaptureQueriesContext(connection) as queries:
        store_flow_outcome("ours", "succeeded", RESULT, "")
    statements = [q["sql"] for q in queries.captured_queries]
    if connection.vendor == "postgresql":  # (elsewhere Django's bulk_create, in a transaction)
        assert len(statements) == 1, statements
    assert sum("ON CONFLICT" in sql for sql in statements) == 1
    get_celery_app().backend.store_result("theirs", RESULT, "SUCCESS")
    assert _row("ours") == _row("theirs")
    assert AsyncResult("ours").get(timeout=5) == RESULT


def test_a_second_outcome_replaces_the_first() -> None:
    store_flow_outcome("run", "failed", None, "flow failed (boom)")
    with pytest.raises(FlowFailedError):
        AsyncResult("run").get(timeout=5)
    store_flow_outcome("run", "succeeded", RESULT, "")  # retry_flow made it succeed
    assert TaskResult.objects.filter(task_id="run").count() == 1
    assert AsyncResult("run").get(timeout=5) == RESULT
    assert AsyncResult("run").state == "SUCCESS"
