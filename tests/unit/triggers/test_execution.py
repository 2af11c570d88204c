"""Trigger tasks run in-process: cascades, retries, MaxRetriesExceeded, refusals, flows."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from selinon_django.models import FlowRun, OutboxMessage
from selinon_django.models.triggers import FiredTrigger, TriggerTaskInstance
from selinon_django.runtime.messages import NODE_TASK
from selinon_django.runtime.unit_of_work import UnitOfWork
from selinon_django.triggers.manager import TRIGGER_TASK, fire, update_configuration
from tests.integration.trigger_tasks import run_count

pytestmark = pytest.mark.django_db

TASKS = "tests.integration.trigger_tasks"


def instance(name: str, session: str = "s") -> TriggerTaskInstance:
    return TriggerTaskInstance.objects.get(session__key=session, name=name)


def test_success_cascades_across_three_levels(drain: Callable[[], list[str]]) -> None:
    update_configuration("s", {
        "level1": {"after": ["start"], "run": f"{TASKS}.AddOne"},
        "level2": {"after": ["level1"], "run": f"{TASKS}.AddOne"},
        "level3": {"after": ["level2"], "run": f"{TASKS}.AddOne"},
    })
    fire("s", "start", {"n": 1})
    assert drain() == ["succeeded"] * 3
    assert instance("level3").result == {"n": 4, "after": "level2"}
    cascades = FiredTrigger.objects.filter(source="cascade").order_by("fired_at", "id")
    assert [(f.name, f.kwargs["n"], f.cascade_of.name if f.cascade_of else None) for f in cascades] == [
        ("level1", 2, "level1"), ("level2", 3, "level2"), ("level3", 4, "level3"),
    ]


def test_task_sees_the_kwargs_of_each_trigger_and_runs_once(drain: Callable[[], list[str]]) -> None:
    update_configuration("s", {"t": {"after": ["first", "second"], "run": f"{TASKS}.CountRuns"}})
    fire("s", "first", {"a": 1})
    fire("s", "second", {"b": 2})
    fire("s", "second", {"b": 3})
    assert drain() == ["succeeded"]
    assert run_count("s", "t") == 1
    assert instance("t").result == {"seen": {"first": {"a": 1}, "second": {"b": 2}}}


def test_a_duplicate_message_does_not_run_the_task_again(drain: Callable[[], list[str]]) -> None:
    from selinon_django.triggers import execution

    update_configuration("s", {"t": {"after": ["go"], "run": f"{TASKS}.CountRuns"}})
    fire("s", "go")
    assert drain() == ["succeeded"]
    assert execution.handle_message(instance("t").pk, 0) == "duplicate"
    assert run_count("s", "t") == 1


def test_retry_with_replacement_kwargs(drain: Callable[[], list[str]]) -> None:
    update_configuration("s", {"t": {"after": ["start"], "run": f"{TASKS}.RetryWithFreshToken"}})
    fire("s", "start", {"token": "stale"})
    assert drain() == ["retried", "succeeded"]
    row = instance("t")
    assert (row.status, row.attempts, row.result) == ("succeeded", 2, {"token": "fresh", "attempt": 2})
    assert row.trigger_kwargs == {"start": {"token": "fresh"}}
    # the fired trigger keeps what the application sent
    assert FiredTrigger.objects.get(name="start").kwargs == {"token": "stale"}


def test_max_retries_exceeded_after_the_last_retry(drain: Callable[[], list[str]]) -> None:
    update_configuration("s", {"t": {"after": ["start"], "run": f"{TASKS}.AlwaysRetry"}})
    fire("s", "start")
    assert drain() == ["retried", "retried", "failed"]
    row = instance("t")
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.error == (
        "MaxRetriesExceeded: t: max_retries=2 exceeded after 3 attempt(s); "
        "last error RuntimeError: still down (attempt 3)"
    )
    assert not FiredTrigger.objects.filter(name="t").exists()


def test_configured_max_retries_overrides_the_class(drain: Callable[[], list[str]]) -> None:
    update_configuration("s", {"t": {"after": ["start"], "run": f"{TASKS}.AlwaysRetry", "max_retries": 0}})
    fire("s", "start")
    assert drain() == ["failed"]
    assert instance("t").error.startswith("MaxRetriesExceeded: t: max_retries=0 exceeded after 1 attempt(s)")


def test_filter_kwargs_refusal_fails_the_task_with_a_clear_error(drain: Callable[[], list[str]]) -> None:
    update_configuration("s", {"t_importSubject": {"after": ["firstPageReceived"], "run": f"{TASKS}.ImportSubject"}})
    fire("s", "firstPageReceived", {"responses": {"birthday": "31/12/1990", "name": "Ann"}})
    assert drain() == ["failed"]
    assert instance("t_importSubject").error == (
        "KwargsRefused: t_importSubject: trigger kwargs refused: trigger 'firstPageReceived', "
        "field 'responses.birthday': '31/12/1990' is not a valid date"
    )
    fire("s2", "firstPageReceived", {"responses": {"birthday": "1990-12-31", "name": "Ann"}})
    update_configuration("s2", {"t_importSubject": {"after": ["firstPageReceived"], "run": f"{TASKS}.ImportSubject"}})
    assert drain() == ["succeeded"]
    assert instance("t_importSubject", "s2").result == {"name": "Ann", "year": 1990}


def test_a_run_that_is_not_a_trigger_task_fails(drain: Callable[[], list[str]]) -> None:
    update_configuration("s", {"t": {"after": ["go"], "run": "tests.integration.tasks.Noop"}})
    fire("s", "go")
    assert drain() == ["failed"]
    assert instance("t").error == "TypeError: tests.integration.tasks.Noop is not a TriggerTask subclass"


def test_the_logger_tags_session_and_task(drain: Callable[[], list[str]], caplog: pytest.LogCaptureFixture) -> None:
    update_configuration("order-7", {"t": {"after": ["go"], "run": f"{TASKS}.CountRuns"}})
    fire("order-7", "go")
    with caplog.at_level(logging.INFO, logger="selinon_django.triggers.tasks"):
        drain()
    lines = [r for r in caplog.records if r.name == "selinon_django.triggers.tasks"]
    assert [r.getMessage() for r in lines] == [
        "[session=order-7 task=t] attempt 1 started",
        "[session=order-7 task=t] ran with ['go']",
        "[session=order-7 task=t] succeeded",
    ]
    assert {(r.trigger_session, r.trigger_task) for r in lines} == {("order-7", "t")}  # type: ignore[attr-defined]


def test_a_flow_trigger_starts_the_flow_and_cascades_on_its_result(
    revision: Any, drain: Callable[[], list[str]], django_capture_on_commit_callbacks: Any, enqueued: list[Any]
) -> None:
    from selinon_django.runtime.dispatcher import finish_run_side_effects

    fire("o", "order_placed", {"order": 7, "who": "a"})
    assert fire("o", "payment_received", {"amount": 10, "who": "b"}) == ["t_flow"]
    row = instance("t_flow", "o")
    assert (row.kind, row.status) == ("flow", "started")
    run = FlowRun.objects.get(pk=row.flow_run_id)
    assert (run.flow_name, run.node_args) == ("echo_flow", {"order": 7, "who": "b", "amount": 10})
    # its first step ran as it started: the first task is on its way
    assert [m.kwargs["dispatcher_id"] for m in enqueued if m.task_name == NODE_TASK] == [run.pk]
    # the flow ends: the dispatcher's side effects send flow_finished after the commit
    run.status, run.result = "succeeded", {"finished_nodes": {"Echo": ["e1"]}, "failed_nodes": {}, "active_nodes": []}
    FlowRun.objects.filter(pk=run.pk).update(status=run.status, result=run.result)
    with django_capture_on_commit_callbacks() as callbacks:
        finish_run_side_effects(run, UnitOfWork(run.pk))
    for callback in callbacks:  # as after the commit (what they publish stays in the outbox)
        callback()
    row.refresh_from_db()
    assert row.status == "succeeded"
    cascade = FiredTrigger.objects.get(session__key="o", name="t_flow")
    assert cascade.source == "flow"
    assert cascade.kwargs == {"finished_nodes": {"Echo": ["e1"]}, "failed_nodes": {}, "active_nodes": [],
                              "run_id": run.pk, "flow_name": "echo_flow", "results": {}}
    assert drain() == ["succeeded"]  # t_after_flow
    assert instance("t_after_flow", "o").result == {"seen": {"t_flow": cascade.kwargs}}


def test_a_failed_flow_fails_the_trigger_task_without_cascade(
    revision: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from selinon_django.runtime.dispatcher import finish_run_side_effects

    fire("o", "order_placed")
    fire("o", "payment_received")
    run = FlowRun.objects.get(pk=instance("t_flow", "o").flow_run_id)
    run.status, run.error = "failed", "flow failed (failed_nodes): ['Echo']"
    FlowRun.objects.filter(pk=run.pk).update(status=run.status, error=run.error)
    with django_capture_on_commit_callbacks() as callbacks:
        finish_run_side_effects(run, UnitOfWork(run.pk))
    for callback in callbacks:
        callback()
    row = instance("t_flow", "o")
    assert row.status == "failed"
    assert row.error == f"flow echo_flow run {run.pk} failed: flow failed (failed_nodes): ['Echo']"
    assert not FiredTrigger.objects.filter(name="t_flow").exists()
    assert not OutboxMessage.objects.filter(task_name=TRIGGER_TASK).exists()


def test_a_cascade_lost_after_the_flow_ended_is_recovered_by_the_sweeper(revision: Any) -> None:
    from selinon_django.runtime.sweeper import sweep

    fire("o", "order_placed", {"order": 7})
    fire("o", "payment_received", {"amount": 10})
    run = FlowRun.objects.get(pk=instance("t_flow", "o").flow_run_id)
    # the flow ended, but the process died before flow_finished reached the receiver
    FlowRun.objects.filter(pk=run.pk).update(
        status="succeeded", result={"finished_nodes": {}, "failed_nodes": {}, "active_nodes": []}
    )
    assert instance("t_flow", "o").status == "started"

    sweep()

    assert instance("t_flow", "o").status == "succeeded"
    assert FiredTrigger.objects.get(session__key="o", name="t_flow").source == "flow"
