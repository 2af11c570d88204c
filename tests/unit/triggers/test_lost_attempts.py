"""A trigger-task attempt that never recorded its end: lost with its process (counted in the
message's ``lost`` and capped at ``max(max_retries, LOST_TASK_RETRIES)``), or interrupted by a
database error (run again, nothing counted). Each goes on from a new message."""
from __future__ import annotations

from typing import Any

import pytest

from selinon_django.models import OutboxMessage
from selinon_django.models.triggers import TriggerSession, TriggerTaskInstance, TriggerTaskStatus
from selinon_django.runtime.messages import TRIGGER_TASK
from selinon_django.triggers import execution


@pytest.fixture
def started(db: None) -> TriggerTaskInstance:
    """An instance whose first attempt started (``max_retries`` 2)."""
    session = TriggerSession.objects.create(key="s")
    return TriggerTaskInstance.objects.create(
        id="i1", session=session, name="t", target="tests.integration.trigger_tasks.CountRuns",
        kind=TriggerTaskInstance.Kind.TASK, status=TriggerTaskStatus.STARTED, attempts=1, max_retries=2,
        worker="w1@h",
    )


def next_message() -> dict[str, Any]:
    [row] = OutboxMessage.objects.filter(task_name=TRIGGER_TASK)
    row.delete()
    return dict(row.kwargs)


def test_a_lost_attempt_is_counted_and_run_again_from_a_new_message(started: TriggerTaskInstance) -> None:
    assert execution.handle_message("i1", 0) == "lost"  # its first message, delivered again
    row = TriggerTaskInstance.objects.get(pk="i1")
    assert (row.status, row.attempts) == (TriggerTaskStatus.RETRYING, 1) and row.error.startswith("WorkerLostError")
    assert next_message() == {"instance_id": "i1", "attempt": 1, "lost": 1}
    assert execution.handle_message("i1", 0) == "duplicate"  # the old one again: nothing more


def test_lost_attempts_over_the_cap_fail_the_instance(started: TriggerTaskInstance) -> None:
    TriggerTaskInstance.objects.filter(pk="i1").update(attempts=3)
    assert execution.handle_message("i1", 2, lost=2) == "lost-too-often"
    row = TriggerTaskInstance.objects.get(pk="i1")
    assert row.status == TriggerTaskStatus.FAILED and "3 time(s)" in row.error
    assert not OutboxMessage.objects.filter(task_name=TRIGGER_TASK).exists()


def test_an_interrupted_attempt_runs_again_uncounted(started: TriggerTaskInstance) -> None:
    assert execution.handle_message("i1", 0, lost=1, interrupted=True) == "interrupted"
    assert TriggerTaskInstance.objects.get(pk="i1").status == TriggerTaskStatus.RETRYING
    assert next_message() == {"instance_id": "i1", "attempt": 1, "lost": 1}
    assert execution.handle_message("i1", 1, lost=1, hostname="w2@h") == "succeeded"
    row = TriggerTaskInstance.objects.get(pk="i1")
    assert (row.status, row.attempts, row.worker) == (TriggerTaskStatus.SUCCEEDED, 2, "w2@h")
